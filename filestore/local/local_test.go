package local_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filestoretest"
	"github.com/medrelay/medrelay/filestore/local"
)

func TestConformance(t *testing.T) {
	filestoretest.Run(t, filestoretest.Backend{
		Open: func(t *testing.T) filestore.Store {
			s, err := local.Open(local.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Corrupt: func(t *testing.T, s filestore.Store, key string) {
			p := s.(*local.Store).ObjectPath(key)
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("XXXX"), 100); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func TestOpenRequiresDir(t *testing.T) {
	if _, err := local.Open(local.Options{}); err == nil {
		t.Fatal("Open without Dir succeeded")
	}
}

func TestCleanUploads(t *testing.T) {
	s, err := local.Open(local.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := s.CreateUpload(ctx, "k", filestore.PutOptions{SHA256: strings.Repeat("0", 64)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.CleanUploads(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("CleanUploads(1h) = %d, %v; want 0 (upload is fresh)", n, err)
	}
	if n, err := s.CleanUploads(ctx, -time.Second); err != nil || n != 1 {
		t.Fatalf("CleanUploads(0) = %d, %v; want 1", n, err)
	}
	if _, err := s.ListParts(ctx, "k", id); !errors.Is(err, filestore.ErrNotFound) {
		t.Fatalf("ListParts after clean: %v, want ErrNotFound", err)
	}
}
