package transfer

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// fuzzWant is the upload the fuzzed state files claim to belong to.
var fuzzWant = uploadState{
	Path: "/data/outgoing/study-1.2.826.0.1.3680043.8.498.1.zip", Size: 123<<20 + 17,
	ModTime: time.Date(2026, 11, 30, 1, 2, 3, 4, time.UTC), Key: "studies/1.2.826.0.1.3680043.8.498.1/study.zip",
}

// FuzzLoadState checks the upload state file: whatever it holds, loading
// it does not fail (a torn or foreign file means starting over), and a
// state it returns belongs to this upload and splits the file into parts
// an upload can have (1..MaxParts, each at least MinPartSize but the last).
func FuzzLoadState(f *testing.F) {
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := loadState(file, fuzzWant)
		if err != nil {
			t.Fatalf("loadState: %v", err)
		}
		if st == nil {
			return
		}
		if st.Path != fuzzWant.Path || st.Size != fuzzWant.Size || !st.ModTime.Equal(fuzzWant.ModTime) || st.Key != fuzzWant.Key {
			t.Fatalf("loaded the state of another upload: %+v", st)
		}
		if n := partCount(st.Size, st.PartSize); n < 1 || n > filestore.MaxParts {
			t.Fatalf("part size %d splits %d bytes into %d parts, want 1..%d", st.PartSize, st.Size, n, filestore.MaxParts)
		}
		if st.PartSize < filestore.MinPartSize || !filestore.ValidSHA256(st.SHA256) || st.UploadID == "" {
			t.Fatalf("loaded an unusable state: %+v", st)
		}
	})
}

// TestWriteFuzzSeeds writes state files as an interrupted upload leaves
// them (see internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	dir := t.TempDir()
	st := fuzzWant
	st.SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	st.PartSize = partSizeFor(st.Size, 8<<20)
	st.UploadID = "2~uOvm4Ch2bcbcKG8HL9YwZvWb5Fio2Sb"
	st.Parts = []filestore.Part{{Number: 1, Size: st.PartSize, ETag: `"a54357aff0632cce46d942af68356b38"`}}
	for name, s := range map[string]uploadState{"one-part-done": st, "just-created": func() uploadState { s := st; s.Parts = nil; return s }()} {
		file := filepath.Join(dir, name)
		if err := s.save(file); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fuzzseed.Write(t, "FuzzLoadState", name, b)
		if name == "one-part-done" {
			fuzzseed.Write(t, "FuzzLoadState", "torn", b[:len(b)/2])
		}
	}
}
