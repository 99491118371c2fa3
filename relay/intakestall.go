package relay

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/medrelay/medrelay/relay/store"
)

// A batch the intake journal acknowledged must reach the store, in
// journal order, even when the store cannot write for a while (a full
// disk, an I/O error). When applying one fails, it and every later
// journaled batch wait in order, and the relay tries to apply them all
// again every stallRetry until the store takes them; then batches flow as
// before. Meanwhile /readyz answers 503 and /metrics and /v1/status say
// how many wait and why; nothing is stored around them (a client batch
// that cannot be journaled is refused, and its client sends it again).
// A relay stopped meanwhile applies them from the journal when it starts.

// stallRetry is how often waiting batches are offered to the store again.
const stallRetry = time.Second

// journaled is an acknowledged journal record, decoded, to apply.
type journaled struct {
	seq   uint64
	items []inbound
	now   time.Time
}

// stall holds the journaled batches applying failed for, oldest first.
type stall struct {
	mu       sync.Mutex
	why      string // why applying stopped; "" while it works
	pending  []journaled
	retrying bool
	stop     chan struct{}
	stopped  bool
	wg       sync.WaitGroup
}

// errStalled refuses client batches that would overtake waiting ones.
var errStalled = errors.New("the relay's store cannot write: acknowledged batches wait for it; send again later")

// apply stores an acknowledged batch, or queues it behind the waiting
// ones.
func (in *journaledIntake) apply(b journaled) {
	in.stall.mu.Lock()
	if in.stall.why != "" {
		in.stall.add(b)
		in.stall.mu.Unlock()
		return
	}
	in.stall.mu.Unlock()
	in.r.store.SubmitForwarded(in.r.applyJournaled(b.seq, b.items, b.now), func(err error) {
		switch {
		case err == nil:
			in.j.Applied(b.seq)
		case errors.Is(err, store.ErrClosed):
			// Applied from the journal when the relay starts again.
		default:
			in.stalled(b, err)
		}
	})
}

// stalled records that b could not be applied and starts retrying. It
// runs on the store's writer, so it must not wait for a commit.
func (in *journaledIntake) stalled(b journaled, err error) {
	s := &in.stall
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.why == "" {
		s.why = fmt.Sprintf("record %d not applied: %v", b.seq, err)
		in.r.log.Error("could not apply a journaled client batch; retrying until the store writes again",
			"record", b.seq, "err", err)
	}
	s.add(b)
	if !s.retrying && !s.stopped {
		s.retrying = true
		s.wg.Add(1)
		go in.retry()
	}
}

// add inserts b in journal order. s.mu is held.
func (s *stall) add(b journaled) {
	i, found := slices.BinarySearchFunc(s.pending, b.seq, func(x journaled, seq uint64) int {
		switch {
		case x.seq < seq:
			return -1
		case x.seq > seq:
			return 1
		}
		return 0
	})
	if !found {
		s.pending = slices.Insert(s.pending, i, b)
	}
}

// retry offers the waiting batches to the store, all in one commit and in
// order, until it takes them or the relay closes.
func (in *journaledIntake) retry() {
	s := &in.stall
	defer s.wg.Done()
	t := time.NewTicker(stallRetry)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		batch := slices.Clone(s.pending)
		s.mu.Unlock()
		err := in.r.store.Update(func(tx *store.Tx) error {
			for _, b := range batch {
				if err := in.r.applyJournaled(b.seq, b.items, b.now)(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if errors.Is(err, store.ErrClosed) {
			return
		}
		s.mu.Lock()
		if err != nil {
			s.why = fmt.Sprintf("record %d not applied: %v", batch[0].seq, err)
			s.mu.Unlock()
			continue
		}
		for _, b := range batch {
			in.j.Applied(b.seq)
		}
		s.pending = slices.DeleteFunc(s.pending, func(x journaled) bool { return x.seq <= batch[len(batch)-1].seq })
		if len(s.pending) > 0 {
			s.mu.Unlock()
			continue
		}
		s.why, s.retrying = "", false
		s.mu.Unlock()
		in.r.log.Info("the store writes again: every acknowledged batch is applied", "last_record", batch[len(batch)-1].seq)
		return
	}
}

// stopRetry ends retrying before the journal closes; what still waits is
// applied from the journal when the relay starts again.
func (s *stall) stopRetry() {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (in *journaledIntake) unapplied() (int, string) {
	in.stall.mu.Lock()
	defer in.stall.mu.Unlock()
	return len(in.stall.pending), in.stall.why
}

// stalledErr returns errStalled while batches wait for the store.
func (in *journaledIntake) stalledErr() error {
	if n, _ := in.unapplied(); n > 0 {
		return errStalled
	}
	return nil
}
