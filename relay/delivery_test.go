package relay_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/audit"
	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func TestOfflineClientReceivesWhenItConnects(t *testing.T) {
	n := startNetwork(t)
	ctx := context.Background()
	sender := dial(t, n.relays["township-a1"], "clinic-1", false)
	for i := 0; i < 20; i++ {
		if _, err := sender.Send(ctx, "county-b/radiology", "study.ready", map[string]string{"n": fmt.Sprint(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "20 envelopes queued for county-b/radiology", func() bool {
		return n.relays["county-b"].Status().Queues["client/radiology"] == 20
	})
	// The sender's relay acknowledged its batches from the intake journal.
	if st := n.relays["township-a1"].Status(); st.Journal != "ok" || st.JournalBatches == 0 || st.JournalBypassed != 0 {
		t.Errorf("township-a1's intake journal: %q, %d batches, %d bypassed; want ok, some, 0",
			st.Journal, st.JournalBatches, st.JournalBypassed)
	}
	in := &inbox{}
	rx := dial(t, n.relays["county-b"], "radiology", true)
	rx.Handle("study.ready", in.handler)
	waitFor(t, "20 envelopes delivered", func() bool { return in.len() == 20 })
	for i, e := range in.envs {
		if e.Args["n"] != fmt.Sprint(i) {
			t.Fatalf("envelope %d has n=%s: order not kept", i, e.Args["n"])
		}
		if len(e.Hops) != 4 {
			t.Errorf("envelope %d has %d hops, want 4 (township-a1, county-a, main, county-b)", i, len(e.Hops))
		}
	}
	waitFor(t, "queue emptied after acks", func() bool {
		return n.relays["county-b"].Status().Queues["client/radiology"] == 0
	})
}

func TestSendOnlyConnectionNeverTakesTheInbox(t *testing.T) {
	n := startNetwork(t)
	ctx := context.Background()
	// clinic-2 sends to itself from a send-only connection.
	sendOnly := dial(t, n.relays["county-a"], "clinic-2", false)
	// Were the relay to deliver to it, its handler would see the note and
	// its ack would take the note from the queue before rx connects.
	wrong := &inbox{}
	sendOnly.Handle("", wrong.handler)
	if _, err := sendOnly.Send(ctx, "county-a/clinic-2", "note", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the note queued", func() bool { return n.relays["county-a"].Status().Queues["client/clinic-2"] == 1 })
	in := &inbox{}
	rx := dial(t, n.relays["county-a"], "clinic-2", true)
	rx.Handle("", in.handler)
	waitFor(t, "note delivered to the receiving connection", func() bool { return in.len() == 1 })
	if wrong.len() != 0 {
		t.Fatalf("the send-only connection received %d envelopes", wrong.len())
	}
}

func TestUnknownRelayDeadLettersWithReceipt(t *testing.T) {
	n := startNetwork(t)
	in := &inbox{}
	c := dial(t, n.relays["county-a"], "clinic-3", true)
	c.Handle(relay.ReceiptCommand, in.handler)
	id, err := c.Send(context.Background(), "county-zz/x", "consult.request", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an error receipt", func() bool { return in.len() == 1 })
	r := in.envs[0]
	if r.Kind != pb.Kind_KIND_RECEIPT || r.CorrelationId != id || r.Receipt.GetStatus() != pb.ReceiptStatus_RECEIPT_STATUS_UNDELIVERABLE || r.From.Relay != "main" {
		t.Errorf("receipt = %v", r)
	}
	if got := n.relays["main"].Status().DeadLetters; got != 1 {
		t.Errorf("main has %d dead letters, want 1", got)
	}
	recs, err := n.relays["main"].Audit(audit.Query{To: "county-zz/x"})
	if err != nil || len(recs) != 1 || recs[0].Outcome != "dead: unknown relay county-zz" {
		t.Errorf("audit = %+v, %v", recs, err)
	}
}

func TestExpiredEnvelopeBecomesDeadLetter(t *testing.T) {
	n := startNetwork(t)
	in := &inbox{}
	c := dial(t, n.relays["county-a"], "clinic-4", true)
	c.Handle(relay.ReceiptCommand, in.handler)
	if _, err := c.Send(context.Background(), "county-b/offline", "x", nil, nil, client.WithTTL(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "queued at county-b", func() bool { return n.relays["county-b"].Status().Queues["client/offline"] == 1 })
	time.Sleep(400 * time.Millisecond)
	rx := dial(t, n.relays["county-b"], "offline", true)
	got := &inbox{}
	rx.Handle("", got.handler)
	waitFor(t, "an EXPIRED receipt", func() bool { return in.len() == 1 })
	if s := in.envs[0].Receipt.GetStatus(); s != pb.ReceiptStatus_RECEIPT_STATUS_EXPIRED {
		t.Errorf("receipt status = %v, want EXPIRED", s)
	}
	if got.len() != 0 {
		t.Errorf("the offline client received an expired envelope")
	}
}

func TestNodeRestartKeepsQueuedEnvelopes(t *testing.T) {
	dir := t.TempDir()
	main := startRelay(t, "main", "", filepath.Join(dir, "main"))
	countyDir := filepath.Join(dir, "county-a")
	county := startRelay(t, "county-a", main.URL(), countyDir)
	waitFor(t, "county-a linked", func() bool { return len(main.Status().Children) == 1 })
	c := dial(t, county, "clinic", false)
	for i := 0; i < 50; i++ {
		if _, err := c.Send(context.Background(), "county-a/offline", "x", map[string]string{"n": fmt.Sprint(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Without shortcut they go up to main and back down: wait for the
	// round trip, however slow the machine, before the restart.
	waitFor(t, "50 queued for the offline client", func() bool { return county.Status().Queues["client/offline"] == 50 })
	c.Close()
	county.Close()
	county = startRelay(t, "county-a", main.URL(), countyDir)
	if q := county.Status().Queues["client/offline"]; q != 50 {
		t.Fatalf("after restart the queue holds %d, want 50", q)
	}
	in := &inbox{}
	rx := dial(t, county, "offline", true)
	rx.Handle("", in.handler)
	waitFor(t, "50 delivered after restart", func() bool { return in.len() == 50 })
}

func TestMainRestartNeedsNoRestartOfNodesOrClients(t *testing.T) {
	dir := t.TempDir()
	mainDir := filepath.Join(dir, "main")
	main := startRelay(t, "main", "", mainDir)
	mainAddr := main.HTTPAddr()
	a := startRelay(t, "county-a", main.URL(), filepath.Join(dir, "a"))
	b := startRelay(t, "county-b", main.URL(), filepath.Join(dir, "b"))
	waitFor(t, "both counties linked", func() bool { return len(main.Status().Children) == 2 })
	tx := dial(t, a, "tx", false)
	in := &inbox{}
	rx := dial(t, b, "rx", true)
	rx.Handle("", in.handler)
	main.Close()
	for i := 0; i < 10; i++ {
		if _, err := tx.Send(context.Background(), "county-b/rx", "while-main-down", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	main = startRelayAt(t, "main", mainDir, mainAddr)
	waitFor(t, "10 delivered after main returned", func() bool { return in.len() == 10 })
}

// With an outbox, Send returns once the envelope is on the application's
// own disk: it works while the relay is down, and what a closed client
// left in its outbox is forwarded by the next client on that outbox.
func TestOutboxSendsWhileTheRelayIsDown(t *testing.T) {
	dir := t.TempDir()
	countyDir := filepath.Join(dir, "county")
	county := startRelay(t, "county-a", "", countyDir)
	addr := county.HTTPAddr()
	outbox := filepath.Join(dir, "outbox")
	ctx := context.Background()
	c, err := client.Dial(ctx, client.Options{Relay: county.URL(), ID: "clinic", OutboxDir: outbox, Link: fastLink})
	if err != nil {
		t.Fatal(err)
	}
	county.Close()
	for i := 0; i < 10; i++ {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Send(sctx, "county-a/rx", "offline-send", map[string]string{"n": fmt.Sprint(i)}, nil)
		cancel()
		if err != nil {
			t.Fatalf("send %d with the relay down: %v", i, err)
		}
	}
	c.Close()
	county = startRelayAt(t, "county-a", countyDir, addr)
	c, err = client.Dial(ctx, client.Options{Relay: county.URL(), ID: "clinic", OutboxDir: outbox, Link: fastLink})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := &inbox{}
	rx := dial(t, county, "rx", true)
	rx.Handle("", in.handler)
	waitFor(t, "10 outbox envelopes delivered", func() bool { return in.len() == 10 })
	for i, e := range in.envs {
		if e.Args["n"] != fmt.Sprint(i) {
			t.Fatalf("envelope %d has n=%s: outbox order not kept", i, e.Args["n"])
		}
	}
}

// An envelope that expires on its way, waiting for a link (county-a holds
// it for main, which is down), gets an EXPIRED receipt too.
func TestEnvelopeExpiredInTransitGetsExpiredReceipt(t *testing.T) {
	dir := t.TempDir()
	mainDir := filepath.Join(dir, "main")
	main := startRelay(t, "main", "", mainDir)
	addr := main.HTTPAddr()
	county := startRelay(t, "county-a", main.URL(), filepath.Join(dir, "a"))
	waitFor(t, "county-a linked", func() bool { return len(main.Status().Children) == 1 })
	in := &inbox{}
	c := dial(t, county, "clinic", true)
	c.Handle(relay.ReceiptCommand, in.handler)
	main.Close()
	if _, err := c.Send(context.Background(), "county-a/other", "x", nil, nil, client.WithTTL(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	startRelayAt(t, "main", mainDir, addr)
	waitFor(t, "an EXPIRED receipt", func() bool { return in.len() == 1 })
	if s := in.envs[0].Receipt.GetStatus(); s != pb.ReceiptStatus_RECEIPT_STATUS_EXPIRED {
		t.Errorf("receipt status = %v, want EXPIRED", s)
	}
}

// A body over the relay's limit is refused at once, by the SDK, naming
// the setting. Bodies just under it that pile up while the relay is down
// go out, when it returns, in batches that fit a frame.
func TestBodyLimits(t *testing.T) {
	dir := t.TempDir()
	r := startRelay(t, "main", "", dir)
	addr := r.HTTPAddr()
	c := dial(t, r, "clinic", false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Send(ctx, "main/rx", "big", nil, make([]byte, 2<<20))
	if err == nil || !strings.Contains(err.Error(), "limits.max_body_bytes") {
		t.Fatalf("2 MiB body: got %v, want a refusal naming limits.max_body_bytes", err)
	}
	r.Close()
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Send(ctx, "main/rx", "near-limit", nil, make([]byte, 1000<<10)); err != nil {
				t.Errorf("1000 KiB body: %v", err)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let them pile up
	r = startRelayAt(t, "main", dir, addr)
	wg.Wait()
	// Acknowledged batches reach the queue with the next commit.
	waitFor(t, "12 near-limit envelopes queued", func() bool { return r.Status().Queues["client/rx"] == 12 })
}

// A dead letter for a relay that was unknown is delivered once that relay
// joins and an operator replays it.
func TestReplayDeadLetterAfterItsRelayJoins(t *testing.T) {
	dir := t.TempDir()
	main := startRelay(t, "main", "", filepath.Join(dir, "main"))
	c := dial(t, main, "clinic", false)
	if _, err := c.Send(context.Background(), "county-zz/rx", "late", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a dead letter", func() bool { return main.Status().DeadLetters == 1 })
	if _, err := main.Replay(1); !errors.Is(err, relay.ErrNoRoute) {
		t.Fatalf("replay while county-zz is unknown: %v, want ErrNoRoute", err)
	}
	if _, err := main.Replay(99); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replay of a missing dead letter: %v, want ErrNotFound", err)
	}
	zz := startRelay(t, "county-zz", main.URL(), filepath.Join(dir, "zz"))
	waitFor(t, "county-zz linked", func() bool { return len(main.Status().Children) == 1 })
	in := &inbox{}
	rx := dial(t, zz, "rx", true)
	rx.Handle("", in.handler)
	q, err := main.Replay(1)
	if err != nil || q != "child/county-zz" {
		t.Fatalf("replay = %q, %v", q, err)
	}
	waitFor(t, "the replayed envelope delivered", func() bool { return in.len() == 1 })
	if main.Status().DeadLetters != 0 {
		t.Error("the replayed dead letter is still listed")
	}
	recs, _ := main.Audit(audit.Query{To: "county-zz/rx"})
	if len(recs) != 2 || recs[1].Outcome != "replayed: queued: child/county-zz" {
		t.Errorf("audit = %+v, want the dead letter and its replay", recs)
	}
}

// A sender that asks for it gets a DELIVERED receipt once the target
// application has acknowledged the envelope; others get none.
func TestDeliveredReceipt(t *testing.T) {
	n := startNetwork(t)
	ctx := context.Background()
	receipts := &inbox{}
	tx := dial(t, n.relays["township-a1"], "clinic-7", true)
	tx.Handle(relay.ReceiptCommand, receipts.handler)
	got := &inbox{}
	rx := dial(t, n.relays["county-b"], "radiology", true)
	rx.Handle("", got.handler)
	id, err := tx.Send(ctx, "county-b/radiology", "consult.request", nil, nil, client.WithDeliveredReceipt())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Send(ctx, "county-b/radiology", "no-receipt-please", nil, nil); err != nil {
		t.Fatal(err)
	}
	// A third envelope asks again: its receipt comes back on the same
	// path after any the second one could have caused, so once it is here
	// a receipt for the second would be too.
	last, err := tx.Send(ctx, "county-b/radiology", "consult.request", nil, nil, client.WithDeliveredReceipt())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all delivered and the last receipt back", func() bool {
		receipts.mu.Lock()
		defer receipts.mu.Unlock()
		n := len(receipts.envs)
		return got.len() == 3 && n > 0 && receipts.envs[n-1].CorrelationId == last
	})
	if receipts.len() != 2 {
		t.Fatalf("%d receipts, want 2 (none for the envelope that did not ask)", receipts.len())
	}
	r := receipts.envs[0]
	if r.CorrelationId != id || r.Receipt.GetStatus() != pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED || r.From.Relay != "county-b" {
		t.Errorf("receipt = %v", r)
	}
}

// With intake_journal: false a client's Send returns only after the bbolt
// commit, so the envelope is in its queue by then.
func TestWithoutTheIntakeJournalSendReturnsAfterTheCommit(t *testing.T) {
	off := false
	r := startRelayWith(t, "main", "", t.TempDir(), func(c *config.Config) { c.IntakeJournal = &off })
	c := dial(t, r, "clinic", false)
	for i := 1; i <= 3; i++ {
		if _, err := c.Send(context.Background(), "main/rx", "note", nil, nil); err != nil {
			t.Fatal(err)
		}
		if st := r.Status(); st.Queues["client/rx"] != i || st.Journal != "off" || st.JournalBatches != 0 {
			t.Fatalf("after send %d: queue %d, journal %q with %d batches; want %d, off, 0",
				i, st.Queues["client/rx"], st.Journal, st.JournalBatches, i)
		}
	}
}
