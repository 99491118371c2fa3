package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// testClock is a relay clock that tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// idDated returns a UUIDv7 envelope id whose time is t.
func idDated(t time.Time) string {
	u := uuid.Must(uuid.NewV7())
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	return u.String()
}

func startMainAt(t *testing.T, clk *testClock) *Relay {
	t.Helper()
	// Without the intake journal a send returns after its commit, so
	// queue depths can be checked at once.
	off := false
	cfg := &config.Config{
		IntakeJournal: &off,
		ID:            "main", Role: config.RoleMain, DataDir: t.TempDir(),
		Listen: config.Listen{HTTP: "127.0.0.1:0", TCP: "127.0.0.1:0", Prefer: "tcp"},
		Limits: config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: config.DefaultMaxBodyBytes, MaxTTL: config.DefaultMaxTTL},
	}
	r, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() { r.Close() })
	return r
}

func dialTo(t *testing.T, r *Relay, id string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Relay: r.URL(), ID: id, Link: link.Options{Heartbeat: 100 * time.Millisecond, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A retransmission is deduped at any age within the window: whatever the
// id's age when the relay first received it (new, days old, a little
// ahead of the relay's clock), sent again when the id is just under
// limits.max_ttl old, after the relay pruned its dedupe records, it is
// acknowledged and not stored twice. Ids outside the window are refused
// with a reason, and the sender's other envelopes still go.
func TestRetransmissionWithinTheWindowIsDeduped(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	r := startMainAt(t, clk)
	c := dialTo(t, r, "clinic")
	ctx := context.Background()
	maxTTL := r.cfg.Limits.MaxTTL
	send := func(id string) error {
		_, err := c.SendEnvelope(ctx, &pb.Envelope{Id: id, To: &pb.Address{Relay: "main", Client: "rx"}, Command: "consult.request"})
		return err
	}
	depth := func() int { return r.store.Depths()["client/rx"] }
	ages := []time.Duration{0, time.Hour, maxTTL / 2, maxTTL - 10*time.Minute, -(config.MaxClockSkew - time.Minute)}
	for k, age := range ages {
		made := clk.now().Add(-age)
		id := idDated(made)
		if err := send(id); err != nil {
			t.Fatalf("id %v old refused: %v", age, err)
		}
		// The last moment the id is still within max_ttl.
		clk.set(made.Add(maxTTL - time.Minute))
		if _, err := r.store.PruneSeen(clk.now()); err != nil {
			t.Fatal(err)
		}
		if err := send(id); err != nil {
			t.Fatalf("retransmission of an id received %v old refused: %v", age, err)
		}
		if got := depth(); got != k+1 {
			t.Fatalf("after the retransmission of an id received %v old, client/rx holds %d, want %d: stored twice", age, got, k+1)
		}
	}

	before := depth()
	for _, tc := range []struct {
		made time.Time
		want string
	}{
		{clk.now().Add(-maxTTL - time.Minute), "limits.max_ttl"},
		{clk.now().Add(config.MaxClockSkew + time.Minute), "ahead of this relay's clock"},
	} {
		err := send(idDated(tc.made))
		if !errors.Is(err, client.ErrRefused) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("id dated %v: err = %v, want refused naming %q", tc.made, err, tc.want)
		}
	}
	if err := send(idDated(clk.now())); err != nil {
		t.Fatalf("a current id after the refusals: %v", err)
	}
	if got := depth(); got != before+1 {
		t.Errorf("client/rx holds %d, want %d: only the current id is stored", got, before+1)
	}
}

// The relay forgets a client once its last link ends, so that the map of
// inboxes does not grow with every id that ever connected; what is queued
// for it stays and is delivered when it comes back.
func TestInboxesOfGoneClientsAreForgotten(t *testing.T) {
	r := startMainAt(t, &testClock{t: time.Now()})
	for i := 0; i < 10; i++ {
		c := dialTo(t, r, fmt.Sprintf("clinic-%d", i))
		if _, err := c.Send(context.Background(), "main/away", "note", nil, nil); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.mu.RLock()
		n := len(r.inboxes)
		r.mu.RUnlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d inboxes kept after every client left", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.store.Depths()["client/away"]; got != 10 {
		t.Errorf("client/away holds %d, want 10", got)
	}
}

// A store whose commit failed makes /readyz answer 503 with the reason,
// and ready again once the store writes, with no traffic to show it.
func TestReadinessFollowsTheStore(t *testing.T) {
	var full atomic.Bool
	cfg := &config.Config{
		ID: "main", Role: config.RoleMain, DataDir: t.TempDir(),
		Listen: config.Listen{HTTP: "127.0.0.1:0", Prefer: "tcp"},
		Limits: config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: config.DefaultMaxBodyBytes, MaxTTL: config.DefaultMaxTTL},
	}
	r, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), StoreFault: func() error {
		if full.Load() {
			return errors.New("no space left on device (test)")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer r.Close()
	ready := func() (int, string) {
		resp, err := http.Get(r.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	full.Store(true)
	if err := r.store.Update(func(*store.Tx) error { return nil }); err == nil {
		t.Fatal("commit succeeded with the fault set")
	}
	if code, body := ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, "no space left") {
		t.Fatalf("/readyz = %d %q, want 503 naming the store's error", code, body)
	}
	full.Store(false)
	deadline := time.Now().Add(15 * time.Second)
	for code, body := ready(); code != http.StatusOK; code, body = ready() {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %q after the store recovered", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The expiry loop leaves an envelope a pump has on its way alone (it
// must not be reported EXPIRED and delivered both), and expires it once
// the pump settles it without an acknowledgement.
func TestExpiryLeavesEnvelopesInFlight(t *testing.T) {
	r := startMainAt(t, &testClock{t: time.Now()})
	raw, err := proto.Marshal(&pb.Envelope{
		Id: envelope.NewID(), Command: "c", Kind: pb.Kind_KIND_COMMAND,
		From: &pb.Address{Relay: "main", Client: "a"}, To: &pb.Address{Relay: "main", Client: "b"},
		ExpiresAt: timestamppb.New(time.Now().Add(-time.Second)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// In flight from the start: the relay's own expiry loop runs too.
	const seq = 1 // the first entry of a new queue
	r.inFlight.add("client/b", seq, seq)
	if err := r.store.Update(func(tx *store.Tx) error {
		got, err := tx.Enqueue("client/b", raw)
		if err == nil && got != seq {
			err = fmt.Errorf("enqueued as %d, want %d", got, seq)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := r.expireDue(time.Now()); n != 0 || r.store.Depths()["client/b"] != 1 {
		t.Fatalf("expired %d envelopes in flight", n)
	}
	r.inFlight.remove("client/b", seq, seq)
	r.expireDue(time.Now()) // or the relay's own loop does it
	if d, n := r.store.Depths()["client/b"], r.store.DeadLetterCount(); d != 0 || n != 1 {
		t.Fatalf("after the pump settled it: depth %d, %d dead letters; want 0 and 1", d, n)
	}
}
