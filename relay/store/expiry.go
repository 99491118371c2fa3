package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/medrelay/medrelay/envelope"
)

// Every queued entry with an expires_at has a key in the expiry bucket:
// expires_at (Unix nanoseconds), the entry's seq, then its queue's name,
// so that the entries due first come first in key order, whichever
// queue holds them, and a relay finds what expired with one seek instead
// of reading its queues. Enqueue adds the key, Remove deletes it.

func expiryKey(exp time.Time, queue string, seq uint64) []byte {
	k := make([]byte, 16, 16+len(queue))
	binary.BigEndian.PutUint64(k, uint64(exp.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], seq)
	return append(k, queue...)
}

func putExpiry(tx *bolt.Tx, queue string, seq uint64, raw []byte) error {
	exp := envelope.ExpiresAt(raw)
	if exp.IsZero() {
		return nil
	}
	if err := tx.Bucket(bucketExpiry).Put(expiryKey(exp, queue, seq), []byte{}); err != nil {
		return fmt.Errorf("index expiry: %w", err)
	}
	return nil
}

func deleteExpiry(tx *bolt.Tx, queue string, seq uint64, raw []byte) error {
	exp := envelope.ExpiresAt(raw)
	if exp.IsZero() {
		return nil
	}
	return tx.Bucket(bucketExpiry).Delete(expiryKey(exp, queue, seq))
}

// Expiring is a queued entry whose expires_at has passed.
type Expiring struct {
	Queue string
	Entry
}

// Expired returns up to max queued entries whose expires_at is before
// now, the earliest first, from any queue.
func (s *Store) Expired(now time.Time, max int) ([]Expiring, error) {
	var out []Expiring
	end := u64(uint64(now.UnixNano()))
	err := s.db.View(func(tx *bolt.Tx) error {
		queues := tx.Bucket(bucketQueues)
		c := tx.Bucket(bucketExpiry).Cursor()
		for k, _ := c.First(); k != nil && len(out) < max; k, _ = c.Next() {
			if len(k) < 16 || bytes.Compare(k[:8], end) >= 0 {
				break
			}
			seq, queue := binary.BigEndian.Uint64(k[8:16]), string(k[16:])
			q := queues.Bucket([]byte(queue))
			if q == nil {
				continue
			}
			if v := q.Get(u64(seq)); v != nil {
				out = append(out, Expiring{Queue: queue, Entry: Entry{Seq: seq, Raw: bytes.Clone(v)}})
			}
		}
		return nil
	})
	return out, err
}

// Queued reports whether queue still holds entry seq, in the transaction.
func (t *Tx) Queued(queue string, seq uint64) bool {
	b := t.tx.Bucket(bucketQueues).Bucket([]byte(queue))
	return b != nil && b.Get(u64(seq)) != nil
}

// indexExpiry indexes the queued entries of a store written before the
// expiry bucket existed, once.
func indexExpiry(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyExpiry) != nil {
		return nil
	}
	queues := tx.Bucket(bucketQueues)
	if err := queues.ForEachBucket(func(name []byte) error {
		return queues.Bucket(name).ForEach(func(k, v []byte) error {
			return putExpiry(tx, string(name), binary.BigEndian.Uint64(k), v)
		})
	}); err != nil {
		return fmt.Errorf("index expiry: %w", err)
	}
	return meta.Put(keyExpiry, []byte{1})
}
