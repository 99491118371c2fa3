package store

import (
	"encoding/binary"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PruneSeen forgets dedupe records older than the dedupe TTL. Keys start
// with a UUIDv7, whose first 48 bits are the creation time in
// milliseconds, so the oldest records come first in key order.
func (s *Store) PruneSeen(now time.Time) (int, error) {
	cutoff := uint64(now.Add(-s.opts.DedupeTTL).UnixMilli())
	n := 0
	err := s.Update(func(t *Tx) error {
		c := t.tx.Bucket(bucketSeen).Cursor()
		for k, _ := c.First(); k != nil && n < 10000; k, _ = c.First() {
			if len(k) >= 8 && binary.BigEndian.Uint64(k)>>16 >= cutoff {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// SeenCount returns how many envelope ids the dedupe table remembers.
func (s *Store) SeenCount() int {
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketSeen).Stats().KeyN
		return nil
	})
	return n
}

// CommitStats describe group commits since the store opened.
type CommitStats struct {
	Commits     uint64
	Submissions uint64
	LastLatency time.Duration
	MaxLatency  time.Duration
	// TotalLatency is the time spent committing, over all commits.
	TotalLatency time.Duration
	// PreallocError is the last failure to preallocate (a full disk, say).
	PreallocError string
}

type commitStats struct {
	sync.Mutex
	CommitStats
}

func (s *Store) recordCommit(n int, d time.Duration) {
	s.commits.Lock()
	defer s.commits.Unlock()
	s.commits.Commits++
	s.commits.Submissions += uint64(n)
	s.commits.LastLatency = d
	s.commits.TotalLatency += d
	if d > s.commits.MaxLatency {
		s.commits.MaxLatency = d
	}
}

// Stats returns commit statistics.
func (s *Store) Stats() CommitStats {
	s.commits.Lock()
	defer s.commits.Unlock()
	return s.commits.CommitStats
}

func (s *Store) recordPreallocError(err error) {
	s.commits.Lock()
	defer s.commits.Unlock()
	s.commits.PreallocError = err.Error()
}
