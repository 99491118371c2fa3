// Package filestoretest is the conformance suite every filestore backend
// runs: the same behaviour, sentinel errors and metadata whatever the
// storage behind it.
package filestoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/medrelay/medrelay/filestore"
)

// Backend describes the store under test.
type Backend struct {
	// Open returns an empty store; the test cleans it up.
	Open func(t *testing.T) filestore.Store
	// Corrupt changes the stored bytes of key behind the store's back,
	// keeping its recorded SHA-256 and size. Nil skips that test.
	Corrupt func(t *testing.T, s filestore.Store, key string)
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"PutGetStat", testPutGetStat},
		{"PutComputesSHA256", testPutComputesSHA256},
		{"PutChecksumMismatch", testPutChecksumMismatch},
		{"GetOffset", testGetOffset},
		{"NotFound", testNotFound},
		{"InvalidKeys", testInvalidKeys},
		{"DeleteList", testDeleteList},
		{"Multipart", testMultipart},
		{"MultipartBadPart", testMultipartBadPart},
		{"MultipartAbort", testMultipartAbort},
		{"Corruption", testCorruption},
		{"GC", testGC},
		{"Presign", testPresign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

// Data returns n deterministic pseudo-random bytes.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// Sum returns the hex SHA-256 of b.
func Sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ReadAll reads key from offset and checks the bytes against the
// recorded SHA-256 when offset is 0.
func ReadAll(t *testing.T, s filestore.Store, key string, offset int64) ([]byte, error) {
	t.Helper()
	rc, in, err := s.Get(context.Background(), key, offset)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if offset == 0 {
		r = filestore.NewHashReader(rc, key, in.SHA256, in.Size)
	}
	return io.ReadAll(r)
}

func mustPut(t *testing.T, s filestore.Store, key string, data []byte, opts filestore.PutOptions) filestore.Info {
	t.Helper()
	in, err := s.Put(context.Background(), key, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return in
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}
