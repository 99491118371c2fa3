package store

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// clock is a store clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// idAt returns a UUIDv7 dedupe key whose embedded time is t.
func idAt(t time.Time) []byte {
	u := uuid.Must(uuid.NewV7())
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	return u[:]
}

func seen(t *testing.T, s *Store, key []byte) bool {
	t.Helper()
	var dup bool
	if err := s.Update(func(tx *Tx) (err error) { dup, err = tx.Seen(key); return }); err != nil {
		t.Fatal(err)
	}
	return dup
}

// A dedupe record lives DedupeTTL from when the relay received the id,
// whatever time the sender's id carries: an id dated 30 days back, or an
// hour ahead, is still recognised until the window ends, then forgotten.
func TestSeenExpiresByReceiptTime(t *testing.T) {
	const ttl = 7 * 24 * time.Hour
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s, err := Open(dir, Options{DedupeTTL: ttl, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	start := clk.now()
	keys := [][]byte{idAt(start), idAt(start.Add(-30 * 24 * time.Hour)), idAt(start.Add(time.Hour))}
	for _, k := range keys {
		if seen(t, s, k) {
			t.Fatalf("id %x seen before it was stored", k)
		}
	}
	for _, age := range []time.Duration{time.Minute, ttl / 2, ttl - time.Minute} {
		clk.t = start.Add(age)
		if n, err := s.PruneSeen(clk.now()); err != nil || n != 0 {
			t.Fatalf("PruneSeen %v after receipt = %d, %v; want nothing pruned", age, n, err)
		}
		// Reopened: the window survives a restart.
		s.Close()
		if s, err = Open(dir, Options{DedupeTTL: ttl, Now: clk.now}); err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if !seen(t, s, k) {
				t.Errorf("id %d not deduped %v after it was received", i, age)
			}
		}
	}
	clk.t = start.Add(ttl + time.Minute)
	if n, err := s.PruneSeen(clk.now()); err != nil || n != len(keys) {
		t.Errorf("PruneSeen after the window = %d, %v; want %d", n, err, len(keys))
	}
	if n := s.SeenCount(); n != 0 {
		t.Errorf("SeenCount = %d after the window, want 0", n)
	}
}

// One prune removes every expired record, not a fixed number per call.
func TestPruneSeenRunsUntilDone(t *testing.T) {
	clk := &clock{t: time.Now()}
	s, err := Open(t.TempDir(), Options{DedupeTTL: time.Hour, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 2*pruneChunk + 500
	if err := s.Update(func(tx *Tx) error {
		for i := 0; i < n; i++ {
			if _, err := tx.Seen(idAt(clk.t)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Hour)
	if got, err := s.PruneSeen(clk.now()); err != nil || got != n {
		t.Errorf("PruneSeen = %d, %v; want all %d", got, err, n)
	}
	if c := s.SeenCount(); c != 0 {
		t.Errorf("SeenCount = %d after prune, want 0", c)
	}
}

// The expiry index finds due entries in any queue, earliest first, and
// forgets entries once they are removed.
func TestExpiredFindsDueEntriesAcrossQueues(t *testing.T) {
	s := open(t, t.TempDir())
	now := time.Now()
	enq := func(queue string, exp time.Time) {
		raw, err := proto.Marshal(&pb.Envelope{Id: "x", ExpiresAt: timestamppb.New(exp)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(func(tx *Tx) error { _, err := tx.Enqueue(queue, raw); return err }); err != nil {
			t.Fatal(err)
		}
	}
	enq("client/a", now.Add(-time.Second))
	enq("child/b", now.Add(-2*time.Second))
	enq("client/a", now.Add(time.Hour))
	if err := s.Update(func(tx *Tx) error { _, err := tx.Enqueue("parent", []byte{}); return err }); err != nil {
		t.Fatal(err)
	}
	due, err := s.Expired(now, 10)
	if err != nil || len(due) != 2 || due[0].Queue != "child/b" || due[1].Queue != "client/a" || due[1].Seq != 1 {
		t.Fatalf("Expired = %+v, %v; want child/b 1 then client/a 1", due, err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.Remove("child/b", []uint64{1}) }); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Expired(now.Add(2*time.Hour), 10); len(due) != 2 || due[0].Queue != "client/a" || due[1].Seq != 2 {
		t.Errorf("after removing child/b 1, Expired = %+v; want client/a 1 and 2", due)
	}
}
