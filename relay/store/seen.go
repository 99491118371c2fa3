package store

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Dedupe records live in two buckets: seen (the key, then the time it was
// received, in milliseconds) answers "was this id stored?", and seen-at
// (that time, then the key) orders them by receipt for pruning. Receipt
// time, not the time inside the sender's UUIDv7: a sender's clock, or an
// envelope that waited long in an outbox, must not shorten the window in
// which a retransmission is recognised.

// pruneChunk bounds the records one prune transaction deletes, so that the
// writer is not held for long; PruneSeen runs as many as it takes.
const pruneChunk = 10000

// PruneSeen forgets dedupe records received more than DedupeTTL before
// now, all of them, in transactions of at most pruneChunk deletions.
func (s *Store) PruneSeen(now time.Time) (int, error) {
	cutoff := u64(uint64(now.Add(-s.opts.DedupeTTL).UnixMilli()))
	total := 0
	for {
		n := 0
		err := s.Update(func(t *Tx) error {
			n = 0
			seen := t.tx.Bucket(bucketSeen)
			c := t.tx.Bucket(bucketSeenAt).Cursor()
			for k, _ := c.First(); k != nil && n < pruneChunk; k, _ = c.First() {
				if len(k) < 8 || bytes.Compare(k[:8], cutoff) >= 0 {
					break
				}
				if err := seen.Delete(k[8:]); err != nil {
					return err
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil || n < pruneChunk {
			return total, err
		}
	}
}

// indexSeen gives the dedupe records of a store written before seen-at
// existed (no receipt time) the time of this upgrade, once: they are then
// kept a full DedupeTTL from now, which errs on the side of deduping.
func (s *Store) indexSeen(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keySeenAt) != nil {
		return nil
	}
	seen, idx := tx.Bucket(bucketSeen), tx.Bucket(bucketSeenAt)
	at := u64(uint64(s.opts.Now().UnixMilli()))
	var keys [][]byte
	if err := seen.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := seen.Put(k, at); err != nil {
			return fmt.Errorf("index dedupe records: %w", err)
		}
		if err := idx.Put(append(bytes.Clone(at), k...), []byte{}); err != nil {
			return fmt.Errorf("index dedupe records: %w", err)
		}
	}
	return meta.Put(keySeenAt, []byte{1})
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
