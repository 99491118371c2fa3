package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/internal/testenv"
)

// docCommands returns the shell lines of the sh blocks of a markdown file.
func docCommands(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && strings.TrimSpace(line) != "":
			out = append(out, line)
		}
	}
	return out
}

// TestHTTPAPIDocCurlExamples runs the curl lines of docs/http-api.md, in
// order, in one shell, against a relay with auth on, and checks what they print.
func TestHTTPAPIDocCurlExamples(t *testing.T) {
	testenv.Require(t, "curl")
	cmds := docCommands(t, "../docs/http-api.md")
	if len(cmds) < 6 {
		t.Fatalf("docs/http-api.md has %d commands, want the whole walk-through", len(cmds))
	}
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds.txt")
	token := medrelay(t, "credentials", "add", "--file", creds, "--id", "clinic-7")
	p := newRelay(t, dir, "main", nil, "auth:\n  credentials_file: "+creds+"\n  allow_plaintext: true\n")
	script := "set -e\n"
	for _, c := range cmds {
		script += c + "\necho\necho '-----'\n"
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "RELAY="+p.URL, "TOKEN="+token)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("the doc's commands hang")
	}
	if err != nil {
		t.Fatalf("the doc's commands failed: %v\n%s", err, out)
	}
	parts := strings.Split(string(out), "-----")
	want := []string{
		``,                  // open (assigns SID)
		`"rejected"`,        // push: nothing rejected, {} is fine too
		`"consult.request"`, // first poll returns the envelope
		`"cursor":"1"`,      // second poll: no more envelopes
		``,                  // delete
		`401`,               // wrong token
	}
	for i, w := range want {
		if i >= len(parts) {
			t.Fatalf("output has %d parts, want %d:\n%s", len(parts), len(want), out)
		}
		if w == `"rejected"` {
			if strings.Contains(parts[i], "reason") {
				t.Fatalf("push refused the envelope: %s", parts[i])
			}
			continue
		}
		if !strings.Contains(parts[i], w) {
			t.Fatalf("command %d (%s) printed %q, want it to contain %s", i+1, cmds[i], parts[i], w)
		}
	}
	if strings.Contains(parts[3], "envelopes") {
		t.Fatalf("the acknowledged envelope came again: %s", parts[3])
	}
}
