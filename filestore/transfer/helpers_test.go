package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/filestore/filestoretest"
	"github.com/medrelay/medrelay/filestore/local"
	"github.com/medrelay/medrelay/filestore/miniotest"
	"github.com/medrelay/medrelay/filestore/s3"
	"github.com/medrelay/medrelay/filestore/transfer"
)

func TestMain(m *testing.M) { os.Exit(miniotest.RunMain(m)) }

// writeFile writes size deterministic bytes to a temp file and returns
// its path and SHA-256, without holding the content in memory.
func writeFile(t testing.TB, seed uint64, size int64) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "study.bin")
	return path, filestoretest.WriteFile(t, path, seed, size)
}

func openLocal(t testing.TB) *local.Store {
	s, err := local.Open(local.Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openS3(t testing.TB) (*s3.Store, *miniotest.Server) {
	srv := miniotest.Shared(t)
	st, err := s3.Open(context.Background(), s3.Options{Endpoint: srv.Endpoint, Bucket: srv.NewBucket(t),
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return st, srv
}

// relay serves store like a relay does and returns a client for it.
func relay(t testing.TB, store filestore.Store, mode string) *filehttp.Client {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h, err := filehttp.New(store, filehttp.Options{Mode: mode, Authorize: filehttp.AllowAll,
		SigningKey: bytes.Repeat([]byte("s"), 32), BaseURL: srv.URL + "/v1/files/", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/v1/files/", h)
	c, err := filehttp.NewClient(filehttp.ClientOptions{BaseURL: srv.URL + "/v1/files/", Direct: mode == filehttp.ModeDirect})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var errCut = errors.New("link cut")

// flaky wraps a Remote: it counts parts and cuts the link after failAfter
// successful parts (0: never), or cuts downloads after cutAt bytes.
type flaky struct {
	transfer.Remote
	failAfter int64
	parts     atomic.Int64
	started   atomic.Int64
	cutAt     int64
	offsets   []int64
}

func (f *flaky) UploadPart(ctx context.Context, key, id string, n int, r io.Reader, size int64) (filestore.Part, error) {
	if f.started.Add(1) > f.failAfter && f.failAfter > 0 {
		return filestore.Part{}, errCut
	}
	p, err := f.Remote.UploadPart(ctx, key, id, n, r, size)
	if err == nil {
		f.parts.Add(1)
	}
	return p, err
}

func (f *flaky) Get(ctx context.Context, key string, off int64) (io.ReadCloser, filestore.Info, error) {
	f.offsets = append(f.offsets, off)
	rc, in, err := f.Remote.Get(ctx, key, off)
	if err != nil || f.cutAt == 0 {
		return rc, in, err
	}
	return &cutReader{rc: rc, left: f.cutAt - off}, in, nil
}

type cutReader struct {
	rc   io.ReadCloser
	left int64
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.rc.Close() }
