package store

import (
	"sync"
	"time"
)

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
	// CommitError is why the last commit failed to write (a full disk, an
	// I/O error), or "" once a commit succeeds again.
	CommitError string
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

func (s *Store) recordCommitError(err error) {
	s.commits.Lock()
	defer s.commits.Unlock()
	if err == nil {
		s.commits.CommitError = ""
	} else {
		s.commits.CommitError = err.Error()
	}
}

// Probe commits a small write (the time, in the meta bucket), to learn
// whether a store whose last commit failed writes again: a commit with no
// change would write no page, and could pass on a full disk.
func (s *Store) Probe() error {
	return s.Update(func(t *Tx) error {
		return t.tx.Bucket(bucketMeta).Put(keyProbe, u64(uint64(t.now.UnixNano())))
	})
}
