package auth

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// FuzzParse checks the credentials file parser: it never panics, an error
// names the line, and every id it accepts is written in the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte("# relay credentials\nclinic-1 " + strings.Repeat("ab", 32) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("error %q does not name the line", err)
			}
			return
		}
		for id := range got {
			if id == "" || strings.HasPrefix(id, "#") || !bytes.Contains(data, []byte(id)) {
				t.Fatalf("accepted id %q, which is not an id of the file", id)
			}
		}
	})
}

// TestWriteFuzzSeeds writes a credentials file made by Add, with each
// role, as `medrelay credentials add` makes it (see internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	path := filepath.Join(t.TempDir(), "credentials")
	for _, a := range []struct {
		id      string
		role    Role
		subtree []string
	}{
		{"clinic-1", RoleClient, nil},
		{"county-a", RoleRelay, []string{"county-a", "township-a1"}},
		{"ops", RoleAdmin, nil},
	} {
		if _, err := Add(path, a.id, a.role, a.subtree); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fuzzseed.Write(t, "FuzzParse", "made-by-add", b)
	fuzzseed.Write(t, "FuzzParse", "comments-and-blank-lines", append([]byte("# main's clients\n\n"), b...))
	fuzzseed.Write(t, "FuzzParse", "short-hash", []byte("clinic-1 abcd\n"))
	fuzzseed.Write(t, "FuzzParse", "three-fields", []byte("clinic-1 "+strings.Repeat("0", 64)+" extra\n"))
}
