package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fill makes a store in dir with enough entries for several pages.
func fill(t *testing.T, dir string) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if err := s.Update(func(tx *Tx) error {
			for j := 0; j < 100; j++ {
				if _, err := tx.Enqueue("client/x", fmt.Appendf(nil, "envelope-%d-%d-%0200d", i, j, j)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A damaged relay.db gives a clear error from Open and from Check, not a
// crash, wherever the damage is: the header (both meta pages), the
// freelist or the pages of a queue.
func TestDamagedStoreGivesAClearError(t *testing.T) {
	for _, off := range []int64{0, 8192, 40960, 4 << 16} {
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir)
			rep, err := Check(dir)
			if err != nil || rep.Queues["client/x"] != 3000 {
				t.Fatalf("Check of a sound store = %+v, %v; want 3000 entries in client/x", rep, err)
			}
			f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			junk := make([]byte, 8*4096)
			for i := range junk {
				junk[i] = byte(i*7 + 3)
			}
			if _, err := f.WriteAt(junk, off); err != nil {
				t.Fatal(err)
			}
			f.Close()
			s, err := Open(dir, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open of a damaged store succeeded")
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "medrelay store check --data-dir "+dir) {
				t.Errorf("Open: %v; want ErrDamaged naming the check command", err)
			}
			if _, err := Check(dir); !errors.Is(err, ErrDamaged) {
				t.Errorf("Check: %v; want ErrDamaged", err)
			}
		})
	}
}
