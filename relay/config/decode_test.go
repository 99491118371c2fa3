package config

import (
	"strings"
	"testing"
)

// TestDecodeErrorsNameTheKey covers the messages the fuzzer found raw:
// a value of the wrong kind, a key with a space, and tabs.
func TestDecodeErrorsNameTheKey(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"section for a string", "id: {a: 1}\n", "line 1: id: a section of keys is not a string"},
		{"list for a section", "listen: [a]\n", "line 1: listen: a list is not a section of keys (listen)"},
		{"list for a string", "listen:\n  http: [1]\n", "line 2: http: a list is not a string"},
		{"key with a space", "data dir: x\n", `line 1: unknown key "data dir" in the top level`},
		{"tab", "id: a\n\trole: main\n", "config is not valid YAML: line 2: found a tab character that violates indentation (indent with spaces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tt.doc, err, tt.want)
			}
		})
	}
}
