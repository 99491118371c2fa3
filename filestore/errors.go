package filestore

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by every Store; test for them with errors.Is.
var (
	// ErrNotFound means the object (or multipart upload) does not exist.
	ErrNotFound = errors.New("not found")

	// ErrInvalidKey means a key is empty, too long, absolute, climbs out of
	// the store with "..", or holds characters outside [A-Za-z0-9._-/].
	ErrInvalidKey = errors.New("invalid key")

	// ErrChecksumMismatch means bytes read or written do not match the
	// SHA-256 recorded for them. It is always wrapped in a *ChecksumError
	// that names the file.
	ErrChecksumMismatch = errors.New("sha256 mismatch")

	// ErrSizeMismatch means a body was shorter or longer than announced.
	ErrSizeMismatch = errors.New("size mismatch")

	// ErrInvalidPart means a multipart completion named a part that was
	// not uploaded, or with another ETag, or parts out of order.
	ErrInvalidPart = errors.New("invalid part")

	// ErrInvalidOptions means PutOptions are unusable, for example a
	// multipart upload without the SHA-256 of the whole object.
	ErrInvalidOptions = errors.New("invalid options")

	// ErrUnsupported means the store cannot do what was asked (for
	// example presigning without a public URL).
	ErrUnsupported = errors.New("not supported")
)

// ChecksumError reports bytes whose SHA-256 differs from the recorded one.
type ChecksumError struct {
	Name string // the key or local path of the file
	Want string // hex SHA-256 that was recorded
	Got  string // hex SHA-256 of the bytes seen
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("file %q: sha256 mismatch: got %s, want %s", e.Name, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrChecksumMismatch) true.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksumMismatch }
