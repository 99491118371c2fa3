package local_test

import (
	"os"
	"testing"

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
