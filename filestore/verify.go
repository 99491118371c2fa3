package filestore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// HashReader passes reads through while computing their SHA-256 and
// counting bytes. At EOF it checks the digest and size it was given, and
// returns a *ChecksumError (or an ErrSizeMismatch error) instead of io.EOF
// when they differ, so a consumer that streams to storage fails instead of
// committing bad bytes.
type HashReader struct {
	r      io.Reader
	h      hash.Hash
	n      int64
	name   string
	want   string // hex; empty means no check
	size   int64  // <= 0 means no check
	result error
}

// NewHashReader wraps r. name is used in errors; want (hex SHA-256) and
// size are checked at EOF when set (want != "", size > 0).
func NewHashReader(r io.Reader, name, want string, size int64) *HashReader {
	return &HashReader{r: r, h: sha256.New(), name: name, want: want, size: size}
}

// Read implements io.Reader.
func (v *HashReader) Read(p []byte) (int, error) {
	if v.result != nil {
		return 0, v.result
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size > 0 && v.n > v.size {
		v.result = fmt.Errorf("file %q: more than %d bytes: %w", v.name, v.size, ErrSizeMismatch)
		return n, v.result
	}
	if err == io.EOF {
		v.result = v.check()
		return n, v.result
	}
	return n, err
}

func (v *HashReader) check() error {
	if v.size > 0 && v.n != v.size {
		return fmt.Errorf("file %q: got %d bytes, want %d: %w", v.name, v.n, v.size, ErrSizeMismatch)
	}
	if v.want != "" && v.Sum() != v.want {
		return &ChecksumError{Name: v.name, Want: v.want, Got: v.Sum()}
	}
	return io.EOF
}

// Sum returns the hex SHA-256 of the bytes read so far.
func (v *HashReader) Sum() string { return hex.EncodeToString(v.h.Sum(nil)) }

// N returns the number of bytes read so far.
func (v *HashReader) N() int64 { return v.n }

// Err returns the checksum or size error found at EOF, or nil.
func (v *HashReader) Err() error {
	if v.result == io.EOF {
		return nil
	}
	return v.result
}
