package worklist

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Queued is one event waiting for a subscriber: its place in the log,
// its number in the subscriber's own sequence, and its DICOM JSON message.
type Queued struct {
	Seq uint64
	Num uint64
	Msg json.RawMessage
}

// Pending returns up to max events owed to ae after log position after,
// in order.
func (s *Service) Pending(ae string, after uint64, max int) ([]Queued, error) {
	var out []Queued
	err := s.view(func(t *txn) error {
		prefix := []byte(ae + "\x00")
		events := t.Bucket(bEvents)
		c := t.Bucket(bInbox).Cursor()
		for k, v := c.Seek(inboxKey(ae, after+1)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < max; k, v = c.Next() {
			var o owed
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode inbox %q: %w", k, err)
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			msg := events.Get(seqKey(seq))
			if msg == nil {
				return fmt.Errorf("event %d owed to %s is missing from the log", seq, ae)
			}
			out = append(out, Queued{Seq: seq, Num: o.Num, Msg: append(json.RawMessage(nil), msg...)})
		}
		return nil
	})
	return out, err
}

// Ack records that ae has received its events up to log position upto.
// A delivered final state report ends ae's subscription to that workitem
// and so releases its deletion lock. Events no subscriber is owed leave
// the log.
func (s *Service) Ack(ae string, upto uint64) error {
	return s.update(func(t *txn) error {
		_, err := t.removeOwed(ae, func(seq uint64, _ *owed) bool { return seq <= upto })
		if err != nil {
			return err
		}
		return t.trimLog()
	})
}

// removeOwed deletes ae's inbox entries, oldest first, while del selects
// them; it returns how many it deleted.
func (t *txn) removeOwed(ae string, del func(seq uint64, o *owed) bool) (int, error) {
	prefix := []byte(ae + "\x00")
	n := 0
	c := t.Bucket(bInbox).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
		var o owed
		if err := json.Unmarshal(v, &o); err != nil {
			return n, err
		}
		if !del(binary.BigEndian.Uint64(k[len(prefix):]), &o) {
			break
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
		if o.Final {
			if err := t.Bucket(bWsubs).Delete(wsubKey(o.UID, ae)); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// trimLog removes the events older than the oldest one still owed.
func (t *txn) trimLog() error {
	oldest := uint64(1<<64 - 1)
	inbox := t.Bucket(bInbox).Cursor()
	err := t.Bucket(bCounters).ForEach(func(ae, _ []byte) error {
		prefix := append(append([]byte(nil), ae...), 0)
		if k, _ := inbox.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			oldest = min(oldest, binary.BigEndian.Uint64(k[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	c := t.Bucket(bEvents).Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < oldest; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Sweep drops events older than the retention that their subscribers
// have not received (counting them per subscriber) and deletes final
// workitems older than the retention that no subscriber holds a deletion
// lock on. A final state report owed to a deletion-lock holder is kept,
// and what follows it for that subscriber with it.
func (s *Service) Sweep(now time.Time) error {
	cutoff := now.Add(-s.o.Retention)
	return s.update(func(t *txn) error {
		var aes []string
		t.Bucket(bCounters).ForEach(func(ae, _ []byte) error { aes = append(aes, string(ae)); return nil })
		d := t.Bucket(bDropped)
		for _, ae := range aes {
			n, err := t.removeOwed(ae, func(_ uint64, o *owed) bool { return o.Time.Before(cutoff) && !t.locked(o, ae) })
			if err != nil {
				return err
			}
			if n > 0 {
				old, _ := strconv.Atoi(string(d.Get([]byte(ae))))
				if err := d.Put([]byte(ae), []byte(strconv.Itoa(old+n))); err != nil {
					return err
				}
			}
		}
		if err := t.trimLog(); err != nil {
			return err
		}
		return t.expireWorkitems(cutoff)
	})
}

func (t *txn) expireWorkitems(cutoff time.Time) error {
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
			if err := t.Bucket(bWsubs).Delete(wsubKey(uid, ae)); err != nil {
				return err
			}
		}
		if err := t.Bucket(bWorkitems).Delete([]byte(uid)); err != nil {
			return err
		}
	}
	return nil
}

// locked reports whether o is a final state report for a subscriber
// holding a deletion lock.
func (t *txn) locked(o *owed, ae string) bool {
	if !o.Final {
		return false
	}
	var sub wsub
	ok, _ := getJSON(t.Bucket(bWsubs), wsubKey(o.UID, ae), &sub)
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
