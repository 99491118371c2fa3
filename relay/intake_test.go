package relay

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/journal"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func openMain(t *testing.T, dir string) *Relay { return openMainWith(t, dir, nil) }

func openMainWith(t *testing.T, dir string, journalOn *bool) *Relay {
	t.Helper()
	cfg := &config.Config{
		IntakeJournal: journalOn,
		ID:            "main", Role: config.RoleMain, DataDir: dir,
		Listen: config.Listen{HTTP: "127.0.0.1:0", Prefer: "tcp"},
		Limits: config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: config.DefaultMaxBodyBytes, MaxTTL: config.DefaultMaxTTL},
	}
	r, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A batch acknowledged from the journal, whose relay died before the
// store applied it, is in its queue when the relay opens again, and only
// once however often the relay restarts.
func TestJournaledBatchIsAppliedAfterACrash(t *testing.T) {
	dir := t.TempDir()
	openMain(t, dir).Close()
	applied := func() uint64 {
		r := openMain(t, dir)
		defer r.Close()
		seq, err := r.store.JournalApplied()
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	// What storeClientBatch leaves behind when the process is killed
	// between the journal's sync and the store's commit.
	var raws [][]byte
	for _, cmd := range []string{"consult.request", "study.ready"} {
		raw, err := proto.Marshal(&pb.Envelope{
			Id: envelope.NewID(), Command: cmd, CreatedAt: timestamppb.Now(),
			From: &pb.Address{Relay: "main", Client: "clinic"}, To: &pb.Address{Relay: "main", Client: "rx"},
		})
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	before := applied()
	j, _, err := journal.Open(dir, before, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	j.Append(encodeIntake("clinic", time.Now(), raws), func(_ uint64, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	j.Close()

	// A relay restarted with intake_journal: false still applies it.
	off := false
	for _, on := range []*bool{&off, nil} {
		r := openMainWith(t, dir, on)
		if got := r.store.Depths()["client/rx"]; got != 2 {
			t.Errorf("after restart client/rx holds %d envelopes, want 2", got)
		}
		if st, _, _ := r.intake.status(); (on == &off) != (st == "off") {
			t.Errorf("intake_journal %v: status %q", on != &off, st)
		}
		r.Close()
	}
	if got := applied(); got != before+1 {
		t.Errorf("store applied journal record %d, want %d", got, before+1)
	}
}

// A journaled envelope the relay no longer accepts when it applies the
// journal (here: limits.max_body_bytes was lowered meanwhile) was
// acknowledged to its client, so it becomes a dead letter with an
// UNDELIVERABLE receipt to its sender, not a warning only.
func TestJournalReplayDeadLettersWhatNoLongerFits(t *testing.T) {
	dir := t.TempDir()
	openMain(t, dir).Close()
	var raws [][]byte
	for _, size := range []int{10, 5000} {
		raw, err := proto.Marshal(&pb.Envelope{
			Id: envelope.NewID(), Command: "consult.request", CreatedAt: timestamppb.Now(), Body: make([]byte, size),
			From: &pb.Address{Relay: "main", Client: "clinic"}, To: &pb.Address{Relay: "main", Client: "rx"},
		})
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	applied, _ := st.JournalApplied()
	st.Close()
	j, _, err := journal.Open(dir, applied, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	j.Append(encodeIntake("clinic", time.Now(), raws), func(_ uint64, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	j.Close()

	cfg := &config.Config{
		ID: "main", Role: config.RoleMain, DataDir: dir,
		Listen: config.Listen{HTTP: "127.0.0.1:0", Prefer: "tcp"},
		Limits: config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: 1000, MaxTTL: config.DefaultMaxTTL},
	}
	r, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d := r.store.Depths(); d["client/rx"] != 1 || d["client/clinic"] != 1 {
		t.Errorf("queues %v: want the small envelope for rx and a receipt for clinic", d)
	}
	dl, err := r.store.DeadLetters(10)
	if err != nil || len(dl) != 1 || !strings.Contains(dl[0].Reason, "refused when the intake journal was applied") || !strings.Contains(dl[0].Reason, "body is 5000 bytes") {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
	rc, _ := r.store.Read("client/clinic", 0, 1, 1<<20)
	env, err := envelope.Decode(rc[0].Raw)
	if err != nil || env.Receipt.GetStatus() != pb.ReceiptStatus_RECEIPT_STATUS_UNDELIVERABLE {
		t.Errorf("receipt = %v, %v; want UNDELIVERABLE", env, err)
	}
}
