package store

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// Counts are the sizes of what the store keeps besides its queues, read
// for /metrics.
type Counts struct {
	// DeadReasons counts dead letters by their reason, as stored.
	DeadReasons map[string]int
	// Audit is the number of audit records.
	Audit int
	// Oldest holds each non-empty queue's oldest entry, as stored.
	Oldest map[string][]byte
}

// Counts reads the dead letters' reasons, the audit record count and each
// queue's oldest entry in one read transaction. It visits every dead
// letter, so it costs in proportion to how many the store holds.
func (s *Store) Counts() (Counts, error) {
	c := Counts{DeadReasons: map[string]int{}, Oldest: map[string][]byte{}}
	queues := s.Depths()
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketDead).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			d, err := decodeDeadLetter(binary.BigEndian.Uint64(k), v)
			if err != nil {
				c.DeadReasons["unreadable"]++
				continue
			}
			c.DeadReasons[d.Reason]++
		}
		c.Audit = tx.Bucket(bucketAudit).Stats().KeyN
		return nil
	})
	if err != nil {
		return c, err
	}
	for q := range queues {
		if e, err := s.Read(q, 0, 1, 1); err == nil && len(e) > 0 {
			c.Oldest[q] = e[0].Raw
		}
	}
	return c, nil
}
