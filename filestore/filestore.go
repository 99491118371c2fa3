package filestore

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Store is the contract every backend implements. Keys are validated
// with ValidateKey; every method returns ErrInvalidKey for a bad key and
// ErrNotFound for a missing object or upload.
//
// Objects are written either whole (Put) or in parts (CreateUpload,
// UploadPart, ListParts, CompleteUpload, AbortUpload). Either way they
// carry the metadata of PutOptions, readable with Stat.
type Store interface {
	// Put streams r into key, computing its SHA-256 on the way. When
	// opts.SHA256 is set and the bytes differ, nothing is stored and the
	// error is a *ChecksumError. Put never holds the whole object in memory.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (Info, error)

	// Get opens key for reading from byte offset (0 for the whole
	// object); Info describes the whole object. The caller closes the reader.
	Get(ctx context.Context, key string, offset int64) (io.ReadCloser, Info, error)

	// Stat returns the object's size and metadata.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// List calls fn for every object whose key starts with prefix, in no
	// particular order, until fn returns an error (which List returns).
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// CreateUpload starts a multipart upload to key. The metadata,
	// including the SHA-256 of the whole object, is fixed here.
	CreateUpload(ctx context.Context, key string, opts PutOptions) (uploadID string, err error)

	// UploadPart stores part n (1..MaxParts) of size bytes read from r,
	// replacing an earlier part n.
	UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (Part, error)

	// ListParts returns the parts uploaded so far, by ascending number.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)

	// CompleteUpload joins parts, in order, into the object.
	CompleteUpload(ctx context.Context, key, uploadID string, parts []Part) (Info, error)

	// AbortUpload discards an upload and its parts.
	AbortUpload(ctx context.Context, key, uploadID string) error
}

// Presigner is the optional ability to hand out URLs that let a client
// without credentials move bytes directly (direct mode). Check for it with
// a type assertion.
type Presigner interface {
	Presign(ctx context.Context, req PresignRequest) (string, error)
}

// Presign operations.
const (
	PresignGet  = "GET" // download key
	PresignPart = "PUT" // upload part PartNumber of UploadID
)

// PresignRequest names what a presigned URL allows.
type PresignRequest struct {
	Method     string        // PresignGet or PresignPart
	Key        string        // object key
	UploadID   string        // PresignPart only
	PartNumber int           // PresignPart only, 1..MaxParts
	TTL        time.Duration // how long the URL works; 0 means DefaultPresignTTL
}

// DefaultPresignTTL is the lifetime of a presigned URL when none is asked.
const DefaultPresignTTL = time.Hour

// MaxParts is the largest part number (as in S3).
const MaxParts = 10000

// MinPartSize is the smallest size of a part other than the last (as in S3).
const MinPartSize = 5 << 20

// PutOptions is the metadata stored with an object.
type PutOptions struct {
	// SHA256 is the hex SHA-256 of the whole object. Put computes it when
	// empty and checks it when set; CreateUpload requires it.
	SHA256 string `json:"sha256,omitempty"`
	// Size is the object's size when known, else -1 or 0 for unknown.
	// Put checks it when positive.
	Size int64 `json:"size,omitempty"`
	// EnvelopeID is the envelope that carries the reference; GC asks
	// whether it is still queued before removing the object.
	EnvelopeID string `json:"envelope_id,omitempty"`
	// MediaType is the object's media type; empty means
	// "application/octet-stream".
	MediaType string `json:"media_type,omitempty"`
	// Expires is when the object may be removed by GC; zero means only
	// GC's age limit applies.
	Expires time.Time `json:"expires,omitzero"`
}

// Info describes a stored object.
type Info struct {
	Key        string    `json:"key"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"` // hex; empty if the backend has none recorded
	EnvelopeID string    `json:"envelope_id,omitempty"`
	MediaType  string    `json:"media_type,omitempty"`
	Expires    time.Time `json:"expires,omitzero"` // zero if none
	Modified   time.Time `json:"modified,omitzero"`
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number int    `json:"number"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"`
}

// Ref is what an envelope carries for an attached file. The protobuf
// envelope mirrors it field for field.
type Ref struct {
	Store     string `json:"store"`  // name of the store (the relay that holds it)
	Bucket    string `json:"bucket"` // bucket, empty for a local store
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"` // hex, lower case
	MediaType string `json:"media_type"`
}

// Validate checks that a reference names a valid key and a well-formed digest.
func (r Ref) Validate() error {
	if err := ValidateKey(r.Key); err != nil {
		return err
	}
	if r.Size < 0 {
		return fmt.Errorf("file %q: negative size %d", r.Key, r.Size)
	}
	if !validSHA256(r.SHA256) {
		return fmt.Errorf("file %q: sha256 %q is not 64 lower-case hex digits", r.Key, r.SHA256)
	}
	return nil
}

// Ref returns the reference an envelope carries for this object.
func (in Info) Ref(store, bucket string) Ref {
	return Ref{Store: store, Bucket: bucket, Key: in.Key, Size: in.Size, SHA256: in.SHA256, MediaType: in.MediaType}
}
