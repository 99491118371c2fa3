package config

import (
	"strings"
	"testing"
)

const validNode = `
id: county-a
role: node
data_dir: ./data/county-a
listen:
  http: 127.0.0.1:7100
  tcp: 127.0.0.1:7101
  prefer: tcp
parent:
  url: http://127.0.0.1:7000
  transport: auto
`

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(validNode))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "county-a" || c.Parent.URL != "http://127.0.0.1:7000" || c.Limits.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Errorf("got %+v", c)
	}
	if !c.UsesIntakeJournal() {
		t.Error("intake_journal is off by default, want on")
	}
	c, err = Parse([]byte(validNode + "intake_journal: false\n"))
	if err != nil || c.UsesIntakeJournal() {
		t.Errorf("intake_journal: false gives %v, %v; want off", err, c)
	}
	if _, err := Parse([]byte(validNode + "intake_journal: maybe\n")); err == nil || !strings.Contains(err.Error(), "intake_journal") {
		t.Errorf("intake_journal: maybe gives %v, want an error naming the key", err)
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", ``, "config is empty"},
		{"unknown top key", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\ncolour: red\n", `line 5: unknown key "colour" in the top level`},
		{"unknown nested key", "id: a\nrole: main\ndata_dir: d\nlisten:\n  http: 127.0.0.1:1\n  udp: x\n", `unknown key "udp" in listen`},
		{"missing id", "role: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\n", "id is required"},
		{"wrong type", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nlimits:\n  max_body_bytes: lots\n", `line 6: max_body_bytes: "lots" is not a whole number`},
		{"bad id", "id: County_A\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\n", `id "County_A" is invalid`},
		{"bad role", "id: a\nrole: leaf\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\n", `role "leaf" is invalid: use main or node`},
		{"no data dir", "id: a\nrole: main\nlisten: {http: 127.0.0.1:1}\n", "data_dir is required"},
		{"no http", "id: a\nrole: main\ndata_dir: d\n", "listen.http is required"},
		{"bad http", "id: a\nrole: main\ndata_dir: d\nlisten: {http: nowhere}\n", `listen.http "nowhere" is invalid`},
		{"prefer without tcp", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1, prefer: tcp}\n", "listen.tcp is not set"},
		{"bad prefer", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1, prefer: carrier-pigeon}\n", `listen.prefer "carrier-pigeon" is invalid`},
		{"node without parent", "id: a\nrole: node\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\n", "parent is required when role is node"},
		{"main with parent", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nparent: {url: http://x:1}\n", "parent must not be set"},
		{"bad parent url", "id: a\nrole: node\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nparent: {url: 'x:1'}\n", `parent.url "x:1" is invalid`},
		{"bad transport", "id: a\nrole: node\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nparent: {url: 'http://x:1', transport: smoke}\n", `parent.transport "smoke" is invalid`},
		{"shortcut on main", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nshortcut: true\n", "shortcut applies to nodes only"},
		{"body larger than a frame", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nlimits: {max_body_bytes: 8388608}\n", "limits.max_body_bytes (8388608) must be at least 64 KiB below limits.max_frame_bytes"},
		{"small frame", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nlimits: {max_frame_bytes: 10}\n", "limits.max_frame_bytes must be at least"},
		{"small hello", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nlimits: {max_hello_bytes: 10}\n", "limits.max_hello_bytes must be at least 1024"},
		{"per address over total", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nlimits: {max_connections: 10, max_connections_per_address: 20}\n", "limits.max_connections_per_address (20) must not exceed limits.max_connections (10)"},
		{"negative file bound", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nlimits: {max_file_bytes_per_caller: -1}\n", "limits.max_file_bytes_per_caller must not be negative"},
		{"token over http", "id: a\nrole: node\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nparent: {url: 'http://x:1', token: abc}\n", "parent.allow_plaintext: true"},
		{"unknown auth key", "id: a\nrole: main\ndata_dir: d\nlisten: {http: 127.0.0.1:1}\nauth: {credentials_file: c, roles: x}\n", `unknown key "roles" in auth`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.want)
			}
			if got := err.Error(); !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
}
