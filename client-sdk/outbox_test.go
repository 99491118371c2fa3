package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What is enqueued survives a reopen, comes back oldest first, and is gone
// once removed.
func TestOutboxKeepsOrderAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	o, err := openOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := o.enqueue([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	o.close()
	if o, err = openOutbox(dir); err != nil {
		t.Fatal(err)
	}
	defer o.close()
	got, err := o.read(10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[0].raw) != "a" || string(got[2].raw) != "c" {
		t.Fatalf("got %v, want a, b, c", got)
	}
	if err := o.deadLetter(got[0].seq, got[0].raw, "refused"); err != nil {
		t.Fatal(err)
	}
	if err := o.remove([]uint64{got[0].seq, got[1].seq}); err != nil {
		t.Fatal(err)
	}
	if got, _ = o.read(10, 1<<20); len(got) != 1 || string(got[0].raw) != "c" {
		t.Fatalf("after remove got %v, want c", got)
	}
	if _, err := os.Stat(filepath.Join(dir, OutboxFile)); err != nil {
		t.Fatalf("outbox file: %v", err)
	}
}

// An outbox left by an earlier SDK (relay.db) is not silently ignored.
func TestOutboxRefusesAnEarlierFormat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "relay.db"), nil, 0o600)
	_, err := openOutbox(dir)
	if err == nil || !strings.Contains(err.Error(), "relay.db") {
		t.Fatalf("got %v, want an error naming relay.db", err)
	}
}

// A second client on the same OutboxDir gets an error that says so.
func TestOutboxLockedByAnotherClient(t *testing.T) {
	dir := t.TempDir()
	o, err := openOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.close()
	_, err = openOutbox(dir)
	if err == nil || !strings.Contains(err.Error(), "another client") {
		t.Fatalf("got %v, want a lock error", err)
	}
}
