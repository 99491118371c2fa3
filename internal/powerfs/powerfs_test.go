package powerfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/medrelay/medrelay/internal/testenv"
)

func mount(t *testing.T, seed string) *FS {
	t.Helper()
	if err := Available(); err != nil {
		testenv.Missing(t, "powerfs: %v", err)
	}
	f, err := Mount(filepath.Join(t.TempDir()), seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Unmount() })
	return f
}

func syncPath(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", p, err)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCutKeepsOnlyWhatWasSynced checks the model: data needs an fsync of
// the file, a new name an fsync of its directory.
func TestCutKeepsOnlyWhatWasSynced(t *testing.T) {
	seed := t.TempDir()
	os.Mkdir(filepath.Join(seed, "data"), 0o755)
	write(t, filepath.Join(seed, "data", "old"), "seeded")
	f := mount(t, seed)
	d := filepath.Join(f.Dir, "data")

	write(t, filepath.Join(d, "synced"), "v1")
	syncPath(t, filepath.Join(d, "synced"))
	write(t, filepath.Join(d, "unsynced-data"), "lost")
	syncPath(t, d) // both names durable; only "synced" has its data
	write(t, filepath.Join(d, "synced"), "v2-not-synced")
	write(t, filepath.Join(d, "unsynced-name"), "x")
	syncPath(t, filepath.Join(d, "unsynced-name"))
	if err := os.Remove(filepath.Join(d, "old")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(d, "synced")); string(b) != "v2-not-synced" {
		t.Fatalf("read before the cut = %q, want the latest write", b)
	}

	out := filepath.Join(t.TempDir(), "survived")
	if err := f.Cut(out); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "after"), nil, 0o644); err == nil {
		t.Error("a write after the cut succeeded, want EIO")
	}
	got := map[string]string{}
	ents, err := os.ReadDir(filepath.Join(out, "data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(out, "data", e.Name()))
		got[e.Name()] = string(b)
	}
	want := map[string]string{"synced": "v1", "unsynced-data": "", "old": "seeded"}
	if len(got) != len(want) {
		t.Errorf("survived %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("survived %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}
