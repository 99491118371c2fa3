package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/medrelay/medrelay/relay/audit"
)

// Fill of the pages a bucket splits. bbolt splits at half a page, which
// suits random inserts; queues and the audit log only ever append (their
// keys grow), so their pages can be packed full, and the seen ids, from
// the clocks of many senders, mostly arrive near the end. Fuller pages
// mean fewer pages to write and sync per commit.
const (
	appendFill = 1.0
	seenFill   = 0.9
)

// Tx is the view of a group commit given to a submitted function.
type Tx struct {
	tx    *bolt.Tx
	store *Store
	now   time.Time       // the store's clock when the commit began
	delta map[string]int  // change of each queue's depth
	added map[string]bool // queues that got entries
	audit *auditTail      // loaded by the first Audit, stored by finish
}

// auditTail is the end of the audit chain: the hash and time key of the
// last record.
type auditTail struct {
	head []byte
	last uint64
}

// finish stores what the transaction's functions kept in memory. The store
// calls it once, after the last function.
func (t *Tx) finish() error {
	if t.audit == nil {
		return nil
	}
	meta := t.tx.Bucket(bucketMeta)
	if err := meta.Put(keyAuditHead, t.audit.head); err != nil {
		return err
	}
	return meta.Put(keyAuditLast, u64(t.audit.last))
}

// Seen reports whether the envelope with this key (its 16-byte id first)
// was stored before (or earlier in this transaction), and records it if
// not, with the time it was received: the record is kept for DedupeTTL
// from then, whatever the time inside the sender's id says.
func (t *Tx) Seen(idKey []byte) (bool, error) {
	b := t.tx.Bucket(bucketSeen)
	b.FillPercent = seenFill
	if b.Get(idKey) != nil {
		return true, nil
	}
	at := u64(uint64(t.now.UnixMilli()))
	if err := b.Put(idKey, at); err != nil {
		return false, fmt.Errorf("record id: %w", err)
	}
	idx := t.tx.Bucket(bucketSeenAt)
	idx.FillPercent = appendFill
	if err := idx.Put(append(at, idKey...), []byte{}); err != nil {
		return false, fmt.Errorf("record id: %w", err)
	}
	return false, nil
}

// Enqueue appends raw to queue and returns its sequence number.
func (t *Tx) Enqueue(queue string, raw []byte) (uint64, error) {
	b, err := t.tx.Bucket(bucketQueues).CreateBucketIfNotExists([]byte(queue))
	if err != nil {
		return 0, fmt.Errorf("create queue %s: %w", queue, err)
	}
	b.FillPercent = appendFill
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := b.Put(u64(seq), raw); err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	if err := putExpiry(t.tx, queue, seq, raw); err != nil {
		return 0, err
	}
	t.delta[queue]++
	t.added[queue] = true
	return seq, nil
}

// Remove deletes entries from queue. Missing entries are ignored, so a
// removal may safely be repeated.
func (t *Tx) Remove(queue string, seqs []uint64) error {
	b := t.tx.Bucket(bucketQueues).Bucket([]byte(queue))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for _, seq := range seqs {
		k := u64(seq)
		got, v := c.Seek(k)
		if !bytes.Equal(got, k) {
			continue
		}
		if err := deleteExpiry(t.tx, queue, seq, v); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return fmt.Errorf("remove: %w", err)
		}
		t.delta[queue]--
	}
	return nil
}

// DeadLetter stores raw in the dead-letter store with a reason.
func (t *Tx) DeadLetter(queue string, raw []byte, reason string) error {
	b := t.tx.Bucket(bucketDead)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	rec := DeadLetter{Seq: seq, Queue: queue, Reason: reason, At: time.Now(), Raw: raw}
	if err := b.Put(u64(seq), rec.encode()); err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	return nil
}

// RemoveDeadLetter deletes a dead letter (after a replay).
func (t *Tx) RemoveDeadLetter(seq uint64) error {
	return t.tx.Bucket(bucketDead).Delete(u64(seq))
}

// SetSubtree records that every relay in subtree is reached through child,
// and forgets the child's relays that are no longer in it.
func (t *Tx) SetSubtree(child string, subtree []string) error {
	b := t.tx.Bucket(bucketRoutes)
	keep := make(map[string]bool, len(subtree))
	for _, r := range subtree {
		keep[r] = true
	}
	var stale [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if string(v) == child && !keep[string(k)] {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for _, r := range subtree {
		if err := b.Put([]byte(r), []byte(child)); err != nil {
			return fmt.Errorf("set route: %w", err)
		}
	}
	return nil
}

// Audit appends a record to the audit log, keyed by time (never earlier
// than the record before, so that key order is the order of appending)
// and chained to the record before (package audit): each stored value is
// audit.Chain(previous hash, record) followed by the record, so that a
// record changed or removed afterwards breaks the chain (see
// audit.Verify). The chain's end is stored once per commit, by finish.
func (t *Tx) Audit(at time.Time, rec []byte) error {
	b := t.tx.Bucket(bucketAudit)
	b.FillPercent = appendFill
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	if t.audit == nil {
		meta := t.tx.Bucket(bucketMeta)
		t.audit = &auditTail{head: bytes.Clone(meta.Get(keyAuditHead)), last: decodeU64(meta.Get(keyAuditLast))}
	}
	nanos := max(uint64(at.UnixNano()), t.audit.last)
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, nanos)
	binary.BigEndian.PutUint64(k[8:], seq)
	sum := audit.Chain(t.audit.head, rec)
	t.audit.head, t.audit.last = sum, nanos
	return b.Put(k, append(sum, rec...))
}

// JournalApplied returns the sequence number of the last intake journal
// record applied to the store (see package journal), or 0.
func (t *Tx) JournalApplied() uint64 {
	return decodeU64(t.tx.Bucket(bucketMeta).Get(keyJournal))
}

// SetJournalApplied records that the intake journal record seq is applied,
// in the same commit as what it carried.
func (t *Tx) SetJournalApplied(seq uint64) error {
	return t.tx.Bucket(bucketMeta).Put(keyJournal, u64(seq))
}

// Move moves the entries of queue from for which to returns a queue name
// to the end of that queue, in their order, and returns how many moved.
// A route that moved from one child to another takes its queued
// envelopes with it.
func (t *Tx) Move(from string, to func(raw []byte) string) (int, error) {
	b := t.tx.Bucket(bucketQueues).Bucket([]byte(from))
	if b == nil {
		return 0, nil
	}
	type entry struct {
		seq uint64
		raw []byte
		to  string
	}
	var moving []entry
	err := b.ForEach(func(k, v []byte) error {
		if q := to(v); q != "" && q != from {
			moving = append(moving, entry{binary.BigEndian.Uint64(k), bytes.Clone(v), q})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, e := range moving {
		if _, err := t.Enqueue(e.to, e.raw); err != nil {
			return 0, err
		}
		if err := t.Remove(from, []uint64{e.seq}); err != nil {
			return 0, err
		}
	}
	return len(moving), nil
}
