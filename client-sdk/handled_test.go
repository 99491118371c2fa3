package client

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/medrelay/medrelay/envelope"
)

// Recorded ids survive a reopen; those whose envelopes can no longer be
// delivered are pruned.
func TestHandledRecordSurvivesReopenAndPrunes(t *testing.T) {
	dir := t.TempDir()
	h, err := openHandled(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := h.record([]handledID{{"live", now.Add(time.Hour)}, {"old", now.Add(-time.Second)}}); err != nil {
		t.Fatal(err)
	}
	h.close()
	if h, err = openHandled(dir); err != nil { // prunes
		t.Fatal(err)
	}
	defer h.close()
	for id, want := range map[string]bool{"live": true, "old": false, "never": false} {
		if got, err := h.has(id); err != nil || got != want {
			t.Errorf("has(%q) = %v, %v; want %v", id, got, err, want)
		}
	}
}

// An envelope's record is kept until it expires, and at least DefaultMaxTTL.
func TestHandledUntil(t *testing.T) {
	now := time.Now()
	if got := handledUntil(&Envelope{}, now); !got.Equal(now.Add(envelope.DefaultMaxTTL)) {
		t.Errorf("without expiry: %v, want now+DefaultMaxTTL", got)
	}
	late := now.Add(2 * envelope.DefaultMaxTTL)
	if got := handledUntil(&Envelope{ExpiresAt: timestamppb.New(late)}, now); !got.Equal(late) {
		t.Errorf("with a later expiry: %v, want %v", got, late)
	}
}

// A second receiving client on the same StateDir gets an error that says so.
func TestHandledRecordLockedByAnotherClient(t *testing.T) {
	dir := t.TempDir()
	h, err := openHandled(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	if _, err = openHandled(dir); err == nil || !strings.Contains(err.Error(), "another receiving client") {
		t.Fatalf("got %v, want a lock error", err)
	}
}
