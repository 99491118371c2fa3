package filehttp_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/filestore/filestoretest"
	"github.com/medrelay/medrelay/filestore/local"
	"github.com/medrelay/medrelay/filestore/miniotest"
	"github.com/medrelay/medrelay/filestore/s3"
)

func TestMain(m *testing.M) { os.Exit(miniotest.RunMain(m)) }

var signingKey = bytes.Repeat([]byte("k"), 32)

// serve mounts a handler for store on a test server the way a relay
// does, and returns a client for it.
func serve(t *testing.T, store filestore.Store, mode string, direct bool) *filehttp.Client {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h, err := filehttp.New(store, filehttp.Options{Mode: mode, Authorize: filehttp.AllowAll,
		SigningKey: signingKey, BaseURL: srv.URL + "/v1/files/", InUse: func(string) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/v1/files/", h)
	c, err := filehttp.NewClient(filehttp.ClientOptions{BaseURL: srv.URL + "/v1/files/", Direct: direct})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openLocal(t *testing.T) *local.Store {
	s, err := local.Open(local.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func corruptLocal(t *testing.T, s *local.Store, key string) {
	f, err := os.OpenFile(s.ObjectPath(key), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteAt([]byte("XXXX"), 10)
}

func TestConformanceLocal(t *testing.T) {
	for _, mode := range []string{filehttp.ModeProxy, filehttp.ModeDirect} {
		t.Run(mode, func(t *testing.T) {
			stores := map[filestore.Store]*local.Store{}
			filestoretest.Run(t, filestoretest.Backend{
				Open: func(t *testing.T) filestore.Store {
					ls := openLocal(t)
					c := serve(t, ls, mode, mode == filehttp.ModeDirect)
					stores[c] = ls
					return c
				},
				Corrupt: func(t *testing.T, s filestore.Store, key string) { corruptLocal(t, stores[s], key) },
			})
		})
	}
}

func TestConformanceS3(t *testing.T) {
	srv := miniotest.Shared(t)
	for _, mode := range []string{filehttp.ModeProxy, filehttp.ModeDirect} {
		t.Run(mode, func(t *testing.T) {
			buckets := map[filestore.Store]string{}
			filestoretest.Run(t, filestoretest.Backend{
				Open: func(t *testing.T) filestore.Store {
					bucket := srv.NewBucket(t)
					st, err := s3.Open(context.Background(), s3.Options{Endpoint: srv.Endpoint, Bucket: bucket,
						AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
					if err != nil {
						t.Fatal(err)
					}
					c := serve(t, st, mode, mode == filehttp.ModeDirect)
					buckets[c] = bucket
					return c
				},
				Corrupt: func(t *testing.T, s filestore.Store, key string) {
					ctx := context.Background()
					mc := srv.Client(t)
					oi, err := mc.StatObject(ctx, buckets[s], key, minio.StatObjectOptions{})
					if err != nil {
						t.Fatal(err)
					}
					_, err = mc.PutObject(ctx, buckets[s], key, bytes.NewReader(filestoretest.Data(9, int(oi.Size))), oi.Size,
						minio.PutObjectOptions{UserMetadata: oi.UserMetadata})
					if err != nil {
						t.Fatal(err)
					}
				},
			})
		})
	}
}

func TestAuthorization(t *testing.T) {
	ls := openLocal(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	deny := func(r *http.Request, op filehttp.Op, key string) error {
		if r.Header.Get("Authorization") == "Bearer ok" {
			return nil
		}
		return errors.New("who are you")
	}
	h, err := filehttp.New(ls, filehttp.Options{Mode: filehttp.ModeDirect, Authorize: deny,
		SigningKey: signingKey, BaseURL: srv.URL + "/v1/files/"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/v1/files/", h)
	ctx := context.Background()
	data := []byte("scan")
	ls.Put(ctx, "a/b", bytes.NewReader(data), filestore.PutOptions{})

	anon, _ := filehttp.NewClient(filehttp.ClientOptions{BaseURL: srv.URL + "/v1/files/"})
	_, err = anon.Stat(ctx, "a/b")
	if !errors.Is(err, filehttp.ErrForbidden) {
		t.Fatalf("anonymous Stat: %v, want ErrForbidden", err)
	}

	// A signed URL works without credentials, for its own key and method only.
	u, err := h.Presign(ctx, filestore.PresignRequest{Method: filestore.PresignGet, Key: "a/b", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, url string
		want              int
	}{
		{"signed get", http.MethodGet, u, http.StatusOK},
		{"signed head", http.MethodHead, u, http.StatusOK},
		{"other key", http.MethodGet, strings.Replace(u, "/o/a/b", "/o/a/c", 1), http.StatusForbidden},
		{"delete", http.MethodDelete, u, http.StatusForbidden},
		{"tampered", http.MethodGet, tamper(u), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("got %s, want %d", resp.Status, tt.want)
			}
		})
	}
	expired, _ := h.Presign(ctx, filestore.PresignRequest{Method: filestore.PresignGet, Key: "a/b", TTL: -time.Second})
	resp, err := http.Get(expired)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("expired URL: %s, want 403", resp.Status)
	}
}

func TestPresignRefusesMissingObject(t *testing.T) {
	c := serve(t, openLocal(t), filehttp.ModeDirect, true)
	_, err := c.Presign(context.Background(), "no/such", filehttp.PresignRequest{Method: filestore.PresignGet})
	if !errors.Is(err, filestore.ErrNotFound) || !strings.Contains(err.Error(), "no/such") {
		t.Fatalf("Presign of a missing object: %v, want ErrNotFound naming it", err)
	}
}

func TestProxyModeFallsBack(t *testing.T) {
	// A client that wants direct mode works with a proxy-mode relay.
	c := serve(t, openLocal(t), filehttp.ModeProxy, true)
	ctx := context.Background()
	data := filestoretest.Data(1, 1000)
	if _, err := c.Put(ctx, "x", bytes.NewReader(data), filestore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := filestoretest.ReadAll(t, c, "x", 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
}

func TestGCEndpoint(t *testing.T) {
	c := serve(t, openLocal(t), filehttp.ModeProxy, false)
	ctx := context.Background()
	c.Put(ctx, "old", strings.NewReader("x"), filestore.PutOptions{Expires: time.Now().Add(-time.Minute)})
	res, err := c.GC(ctx, filehttp.GCRequest{})
	if err != nil || res.Removed != 1 {
		t.Fatalf("GC = %+v, %v; want 1 removed", res, err)
	}
}

// tamper changes the last character of a signed URL (its signature).
func tamper(u string) string {
	last := "0"
	if strings.HasSuffix(u, "0") {
		last = "1"
	}
	return u[:len(u)-1] + last
}
