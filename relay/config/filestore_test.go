package config

import (
	"strings"
	"testing"
)

const mainHead = "id: main\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\n"

func TestFileStoreValid(t *testing.T) {
	tests := []struct{ name, yaml, mode string }{
		{"s3 default mode", "filestore:\n  kind: s3\n  endpoint: 127.0.0.1:9000\n  bucket: medrelay\n  access_key: a\n  secret_key: s\n", "direct"},
		{"s3 proxy", "filestore:\n  kind: s3\n  endpoint: minio:9000\n  bucket: b\n  access_key: a\n  secret_key: s\n  secure: true\n  mode: proxy\n", "proxy"},
		{"local", "filestore:\n  kind: local\n  dir: ./files\n  mode: proxy\n", "proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(mainHead + tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.FileStore.Mode; got != tt.mode {
				t.Errorf("mode: got %q, want %q", got, tt.mode)
			}
		})
	}
}

func TestFileStoreErrorsNameTheKey(t *testing.T) {
	s3 := "filestore:\n  kind: s3\n  endpoint: 127.0.0.1:9000\n  bucket: b\n  access_key: a\n  secret_key: s\n"
	tests := []struct{ name, yaml, want string }{
		{"no kind", "filestore:\n  bucket: b\n", "filestore.kind is required"},
		{"bad kind", "filestore:\n  kind: ftp\n", `filestore.kind "ftp" is invalid: use s3 or local`},
		{"bad mode", s3 + "  mode: fast\n", `filestore.mode "fast" is invalid: use direct or proxy`},
		{"no bucket", "filestore:\n  kind: s3\n  endpoint: h:1\n  access_key: a\n  secret_key: s\n", "filestore.bucket is required when filestore.kind is s3"},
		{"no endpoint", "filestore:\n  kind: s3\n  bucket: b\n  access_key: a\n  secret_key: s\n", "filestore.endpoint is required"},
		{"no access key", "filestore:\n  kind: s3\n  endpoint: h:1\n  bucket: b\n  secret_key: s\n", "filestore.access_key is required"},
		{"no secret key", "filestore:\n  kind: s3\n  endpoint: h:1\n  bucket: b\n  access_key: a\n", "filestore.secret_key is required"},
		{"endpoint with scheme", strings.Replace(s3, "127.0.0.1:9000", "http://127.0.0.1:9000", 1), "use HOST:PORT without scheme"},
		{"dir with s3", s3 + "  dir: x\n", "filestore.dir must not be set when filestore.kind is s3"},
		{"local without dir", "filestore:\n  kind: local\n", "filestore.dir is required when filestore.kind is local"},
		{"local with bucket", "filestore:\n  kind: local\n  dir: x\n  bucket: b\n", "filestore.bucket must not be set when filestore.kind is local"},
		{"unknown key", s3 + "  region: eu\n", `unknown key "region" in filestore`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(mainHead + tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
