package store

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// group is a group committer: changes submitted while a commit runs go
// together into the next one, so one fsync serves many callers, without
// waiting on a timer when there is only one (bbolt's Batch waits
// MaxBatchDelay for company, which serialized C-STOREs pay in full).
type group struct {
	db *bolt.DB

	mu      sync.Mutex
	pending []groupCall
	running bool
}

type groupCall struct {
	fn   func(*Tx) error
	done chan error
}

// Commit applies fn in a transaction shared with concurrent callers and
// returns once it is durable. If fn fails, only fn's changes are dropped
// (it is run alone after the others commit). fn may run more than once
// and must be idempotent.
func (s *Store) Commit(fn func(*Tx) error) error {
	c := groupCall{fn: fn, done: make(chan error, 1)}
	g := &s.group
	g.mu.Lock()
	g.pending = append(g.pending, c)
	lead := !g.running
	if lead {
		g.running = true
	}
	g.mu.Unlock()
	if lead {
		g.run()
	}
	return <-c.done
}

// run commits pending calls until there are none; the caller that found
// the committer idle runs it.
func (g *group) run() {
	for {
		g.mu.Lock()
		calls := g.pending
		g.pending = nil
		if len(calls) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		var failed = -1
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range calls {
				if err := c.fn(&Tx{tx}); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, c := range calls {
				c.done <- nil
			}
			continue
		}
		if failed < 0 { // the commit itself failed
			for _, c := range calls {
				c.done <- err
			}
			continue
		}
		calls[failed].done <- err
		g.mu.Lock()
		rest := append(calls[:failed:failed], calls[failed+1:]...) // a copy: cap is failed
		g.pending = append(rest, g.pending...)
		g.mu.Unlock()
	}
}
