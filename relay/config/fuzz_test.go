package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// FuzzParse checks the strict decoding and its rewritten messages: Parse
// returns a config or an error, never both; an accepted config validates
// again; and a decoding error speaks of keys and lines, not of yaml's or
// Go's type names (unless the document itself holds them).
func FuzzParse(f *testing.F) {
	f.Add([]byte(validNode))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want a config or an error", c, err)
		}
		if err != nil {
			msg := err.Error()
			if msg == "" {
				t.Fatal("empty error")
			}
			for _, leak := range []string{"!!", "config.", "unmarshal", "yaml:"} {
				// A document that holds the word itself may see it quoted back.
				if strings.Contains(msg, leak) && !strings.Contains(string(data), strings.TrimRight(leak, ".:")) {
					t.Fatalf("error %q shows %q: it should name the key and say what is wanted", msg, leak)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate again: %v", err)
		}
	})
}

// TestWriteFuzzSeeds writes the shipped configs and the mistakes people
// make in them (see internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs in ../../configs")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".yaml")
		fuzzseed.Write(t, "FuzzParse", "configs-"+name, b)
	}
	for name, doc := range map[string]string{
		"unknown-key":       validNode + "listn:\n  http: 127.0.0.1:1\n",
		"wrong-type-bool":   validNode + "intake_journal: maybe\n",
		"wrong-type-number": validNode + "limits:\n  max_body_bytes: lots\n",
		"map-for-string":    strings.Replace(validNode, "id: county-a", "id: {a: 1}", 1),
		"list-for-map":      strings.Replace(validNode, "listen:\n", "listen: [a]\nx:\n", 1),
		"tab-indent":        strings.Replace(validNode, "  http:", "\thttp:", 1),
		"empty":             "",
		"comment-only":      "# nothing\n",
	} {
		fuzzseed.Write(t, "FuzzParse", name, []byte(doc))
	}
}
