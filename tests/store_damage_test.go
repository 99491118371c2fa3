package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A relay whose relay.db was damaged (bytes overwritten while it was
// stopped) refuses to start with a message that says what is wrong and
// what to run, instead of crashing in bbolt; `medrelay store check`
// tells a sound file from a damaged one by its exit status.
func TestDamagedStoreGivesAClearErrorAndStoreCheckFindsIt(t *testing.T) {
	dir := t.TempDir()
	main := newRelay(t, dir, "main", nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 40; i++ {
		if _, err := ctl(t, ctx, "send", "--relay", main.URL, "--id", "clinic", "--to", "main/offline", "--command", "consult.request", "--arg", "pad="+strings.Repeat("x", 3000)); err != nil {
			t.Fatal(err)
		}
	}
	main.Kill()
	check := func() (string, int) {
		out, err := exec.Command(bin("medrelay"), "store", "check", "--config", main.cfgPath).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := check(); code != 0 || !strings.Contains(out, "queue client/offline: 40 envelopes") {
		t.Fatalf("store check of a sound store: exit %d\n%s", code, out)
	}
	db := filepath.Join(dir, "main", "data", "relay.db")
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 4*4096)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(junk, 3*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out, code := check()
	if code != 1 || !strings.Contains(out, "relay.db is damaged") {
		t.Errorf("store check of a damaged store: exit %d\n%s", code, out)
	}
	serve := exec.Command(bin("medrelay"), "serve", "--config", main.cfgPath)
	got, err := serve.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(string(got), "relay.db is damaged") ||
		!strings.Contains(string(got), "medrelay store check") || strings.Contains(string(got), "SIGSEGV") || strings.Contains(string(got), "goroutine ") {
		t.Errorf("serve on a damaged store: %v\n%s", err, got)
	}
}
