package s3_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filestoretest"
	"github.com/medrelay/medrelay/filestore/miniotest"
	"github.com/medrelay/medrelay/filestore/s3"
)

func TestMain(m *testing.M) { os.Exit(miniotest.RunMain(m)) }

func open(t *testing.T, srv *miniotest.Server, bucket string) *s3.Store {
	t.Helper()
	s, err := s3.Open(context.Background(), s3.Options{Endpoint: srv.Endpoint, Bucket: bucket,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := miniotest.Shared(t)
	filestoretest.Run(t, filestoretest.Backend{
		Open: func(t *testing.T) filestore.Store { return open(t, srv, srv.NewBucket(t)) },
		Corrupt: func(t *testing.T, s filestore.Store, key string) {
			// Overwrite the object with other bytes of the same size,
			// keeping the recorded metadata.
			ctx := context.Background()
			c := srv.Client(t)
			bucket := s.(*s3.Store).Bucket()
			oi, err := c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			other := filestoretest.Data(99, int(oi.Size))
			_, err = c.PutObject(ctx, bucket, key, bytes.NewReader(other), oi.Size,
				minio.PutObjectOptions{UserMetadata: oi.UserMetadata, ContentType: oi.ContentType})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
}

func TestOpenErrorsNameTheSetting(t *testing.T) {
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	good := s3.Options{Endpoint: srv.Endpoint, Bucket: bucket, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
	tests := []struct {
		name   string
		change func(*s3.Options)
		want   string
	}{
		{"missing bucket", func(o *s3.Options) { o.Bucket = "no-such-bucket" }, "filestore.bucket"},
		{"wrong secret", func(o *s3.Options) { o.SecretKey = "wrong-secret-key" }, "filestore.access_key/secret_key"},
		{"unknown access key", func(o *s3.Options) { o.AccessKey = "nobody" }, "filestore.access_key/secret_key"},
		{"unreachable endpoint", func(o *s3.Options) { o.Endpoint = unusedAddr(t) }, "filestore.endpoint"},
		{"endpoint with scheme", func(o *s3.Options) { o.Endpoint = "http://" + o.Endpoint }, "filestore.endpoint"},
		{"empty settings", func(o *s3.Options) { *o = s3.Options{} }, "filestore.endpoint, filestore.bucket, filestore.access_key, filestore.secret_key required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			o.OpenTimeout = 5 * time.Second
			_, err := s3.Open(context.Background(), o)
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open: %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
