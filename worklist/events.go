package worklist

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Queued is one event waiting for a subscriber: its number and its DICOM
// JSON message.
type Queued struct {
	Seq uint64
	Msg json.RawMessage
}

// Pending returns up to max events queued for ae after number after, in
// order.
func (s *Service) Pending(ae string, after uint64, max int) ([]Queued, error) {
	var out []Queued
	err := s.view(func(t *txn) error {
		b := t.Bucket(bEvents).Bucket([]byte(ae))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
			var e event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode event %s/%d: %w", ae, binary.BigEndian.Uint64(k), err)
			}
			out = append(out, Queued{Seq: binary.BigEndian.Uint64(k), Msg: e.Msg})
		}
		return nil
	})
	return out, err
}

// Ack removes ae's events up to number upto: they were delivered. A
// delivered final state report ends ae's subscription to that workitem
// and so releases its deletion lock.
func (s *Service) Ack(ae string, upto uint64) error {
	return s.update(func(t *txn) error {
		b := t.Bucket(bEvents).Bucket([]byte(ae))
		if b == nil {
			return nil
		}
		_, err := t.removeEvents(ae, b, func(k []byte, _ *event) bool { return bytes.Compare(k, seqKey(upto)) <= 0 })
		return err
	})
}

// removeEvents deletes ae's events from the oldest while del selects
// them and returns how many it deleted.
func (t *txn) removeEvents(ae string, b *bolt.Bucket, del func(k []byte, e *event) bool) (int, error) {
	n := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		var e event
		if err := json.Unmarshal(v, &e); err != nil {
			return n, err
		}
		if !del(k, &e) {
			break
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
		if e.Final {
			if err := t.Bucket(bWsubs).Delete(wsubKey(e.UID, ae)); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Sweep drops events older than the retention (counting them per
// subscriber) and deletes final workitems older than the retention that
// no subscriber holds a deletion lock on.
func (s *Service) Sweep(now time.Time) error {
	cutoff := now.Add(-s.o.Retention)
	return s.update(func(t *txn) error {
		var aes []string
		t.Bucket(bEvents).ForEachBucket(func(k []byte) error { aes = append(aes, string(k)); return nil })
		for _, ae := range aes {
			n, err := t.removeEvents(ae, t.Bucket(bEvents).Bucket([]byte(ae)), func(_ []byte, e *event) bool {
				return e.Time.Before(cutoff) && !t.locked(e, ae)
			})
			if err != nil {
				return err
			}
			if n > 0 {
				d := t.Bucket(bDropped)
				old, _ := strconv.Atoi(string(d.Get([]byte(ae))))
				if err := d.Put([]byte(ae), []byte(strconv.Itoa(old+n))); err != nil {
					return err
				}
				s.log.Warn("worklist events dropped after retention", "aet", ae, "events", n)
			}
		}
		var expired []string
		err := t.Bucket(bWorkitems).ForEach(func(k, v []byte) error {
			var w workitem
			if err := json.Unmarshal(v, &w); err != nil {
				return err
			}
			if !w.Final.IsZero() && w.Final.Before(cutoff) {
				expired = append(expired, string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, uid := range expired {
			subs, err := t.subscribers(uid)
			if err != nil {
				return err
			}
			locked := false
			for _, sub := range subs {
				locked = locked || sub.Lock
			}
			if locked {
				continue
			}
			for ae := range subs {
				t.Bucket(bWsubs).Delete(wsubKey(uid, ae))
			}
			if err := t.Bucket(bWorkitems).Delete([]byte(uid)); err != nil {
				return err
			}
		}
		return nil
	})
}

// locked reports whether e is a final state report for a subscriber
// holding a deletion lock: it is kept past the retention until delivered
// (and everything after it with it, to keep the order).
func (t *txn) locked(e *event, ae string) bool {
	if !e.Final {
		return false
	}
	var sub wsub
	ok, _ := getJSON(t.Bucket(bWsubs), wsubKey(e.UID, ae), &sub)
	return ok && sub.Lock
}

// takeDropped returns and resets the number of ae's events dropped after
// the retention.
func (s *Service) takeDropped(ae string) (int, error) {
	var n int
	err := s.update(func(t *txn) error {
		d := t.Bucket(bDropped)
		n, _ = strconv.Atoi(string(d.Get([]byte(ae))))
		if n == 0 {
			return nil
		}
		return d.Delete([]byte(ae))
	})
	return n, err
}
