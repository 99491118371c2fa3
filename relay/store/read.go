package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/medrelay/medrelay/relay/audit"
)

// Entry is one queued envelope.
type Entry struct {
	Seq uint64
	Raw []byte
}

// Read returns up to max entries of queue after seq after, stopping once
// maxBytes is passed (at least one entry is returned when there is one).
func (s *Store) Read(queue string, after uint64, max, maxBytes int) ([]Entry, error) {
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueues).Bucket([]byte(queue))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		size := 0
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < max && (size < maxBytes || len(out) == 0); k, v = c.Next() {
			out = append(out, Entry{Seq: binary.BigEndian.Uint64(k), Raw: bytes.Clone(v)})
			size += len(v)
		}
		return nil
	})
	return out, err
}

// Routes returns the routing table: relay id to the child it lies under.
func (s *Store) Routes() (map[string]string, error) {
	out := make(map[string]string)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoutes).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out, err
}

// DeadLetter is an envelope a relay could not deliver.
type DeadLetter struct {
	Seq    uint64
	Queue  string
	Reason string
	At     time.Time
	Raw    []byte
}

func (d *DeadLetter) encode() []byte {
	var buf []byte
	buf = binary.BigEndian.AppendUint64(buf, uint64(d.At.UnixNano()))
	buf = binary.AppendUvarint(buf, uint64(len(d.Queue)))
	buf = append(buf, d.Queue...)
	buf = binary.AppendUvarint(buf, uint64(len(d.Reason)))
	buf = append(buf, d.Reason...)
	return append(buf, d.Raw...)
}

var errCorrupt = errors.New("corrupt dead letter record")

func decodeDeadLetter(seq uint64, v []byte) (DeadLetter, error) {
	d := DeadLetter{Seq: seq}
	if len(v) < 8 {
		return d, errCorrupt
	}
	d.At = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	v = v[8:]
	var strs [2]string
	for i := range strs {
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			return d, errCorrupt
		}
		strs[i] = string(v[k : k+int(n)])
		v = v[k+int(n):]
	}
	d.Queue, d.Reason, d.Raw = strs[0], strs[1], bytes.Clone(v)
	return d, nil
}

// DeadLetterCount returns how many dead letters the store holds.
func (s *Store) DeadLetterCount() int {
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketDead).Stats().KeyN
		return nil
	})
	return n
}

// DeadLetters returns up to max dead letters, oldest first.
func (s *Store) DeadLetters(max int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDead).Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			d, err := decodeDeadLetter(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return fmt.Errorf("dead letter %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// AuditSince calls fn for each audit record at or after since, oldest
// first, until fn returns false.
func (s *Store) AuditSince(since time.Time, fn func(at time.Time, rec []byte) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		k, v := c.First()
		if since.After(time.Unix(0, 0)) {
			k, v = c.Seek(u64(uint64(since.UnixNano())))
		}
		for ; k != nil; k, v = c.Next() {
			if len(v) < audit.HashSize {
				return fmt.Errorf("audit record %x: %w", k, errCorruptAudit)
			}
			if !fn(time.Unix(0, int64(binary.BigEndian.Uint64(k))), v[audit.HashSize:]) {
				return nil
			}
		}
		return nil
	})
}

var errCorruptAudit = errors.New("shorter than its hash")

// AuditLog calls fn with each stored audit record (its chain hash, then
// the record), oldest first, until fn returns false, and returns the
// chain's head as the store last recorded it. audit.Verify checks them.
func (s *Store) AuditLog(fn func(at time.Time, stored []byte) bool) (head []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !fn(time.Unix(0, int64(binary.BigEndian.Uint64(k))), v) {
				break
			}
		}
		head = bytes.Clone(tx.Bucket(bucketMeta).Get(keyAuditHead))
		return nil
	})
	return head, err
}

// ErrNotFound is returned for a dead letter that does not exist.
var ErrNotFound = errors.New("not found")

// DeadLetterBySeq returns one dead letter.
func (s *Store) DeadLetterBySeq(seq uint64) (DeadLetter, error) {
	var d DeadLetter
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDead).Get(u64(seq))
		if v == nil {
			return fmt.Errorf("dead letter %d: %w", seq, ErrNotFound)
		}
		var err error
		d, err = decodeDeadLetter(seq, v)
		return err
	})
	return d, err
}

// JournalApplied returns the sequence number of the last intake journal
// record applied, as Tx.JournalApplied does.
func (s *Store) JournalApplied() (uint64, error) {
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		seq = decodeU64(tx.Bucket(bucketMeta).Get(keyJournal))
		return nil
	})
	return seq, err
}

func decodeU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
