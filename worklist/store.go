package worklist

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the worklist file. Keys of wsubs are workitem UID, NUL, AE
// title. events holds each event's DICOM JSON message once, keyed by a
// global number (big-endian); inbox holds, under AE title, NUL, that
// number, what one subscriber is still owed (its own event number and
// what retention and deletion locks need). Fanning out to many
// subscribers writes one message and small inbox entries that sit
// together in a few pages.
var (
	bWorkitems = []byte("workitems")
	bGlobals   = []byte("globals")
	bWsubs     = []byte("wsubs")
	bEvents    = []byte("events")
	bInbox     = []byte("inbox")
	bCounters  = []byte("counters")
	bDropped   = []byte("dropped")
)

// workitem is a stored workitem. The Transaction UID is kept beside the
// dataset, so that no read path can return it.
type workitem struct {
	DS    Dataset   `json:"ds"`
	TxUID string    `json:"tx,omitempty"`
	Final time.Time `json:"final,omitzero"`
}

func (w *workitem) state() string { return w.DS.Str(tagProcedureStepState) }

// global is a global or filtered global subscription of one AE.
type global struct {
	Filter    *Query `json:"filter,omitempty"`
	Suspended bool   `json:"suspended,omitempty"`
	Lock      bool   `json:"lock,omitempty"`
}

func (g *global) wants(ds Dataset) bool {
	return !g.Suspended && (g.Filter == nil || g.Filter.Matches(ds))
}

// wsub is a per-workitem subscription.
type wsub struct {
	Lock bool `json:"lock,omitempty"`
}

// owed is an inbox entry: one event owed to one subscriber.
type owed struct {
	Num   uint64    `json:"n"` // in the subscriber's own sequence
	Time  time.Time `json:"t"`
	UID   string    `json:"u"`
	Final bool      `json:"f,omitempty"` // a final state report
}

func inboxKey(ae string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(ae+"\x00"), seq)
}

// txn is one bbolt write transaction plus the subscribers it queued
// events for (woken after the commit).
type txn struct {
	*bolt.Tx
	now   time.Time
	woken map[string]bool
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func (t *txn) workitem(uid string) (*workitem, error) {
	var w workitem
	ok, err := getJSON(t.Bucket(bWorkitems), []byte(uid), &w)
	if err != nil || !ok {
		return nil, err
	}
	return &w, nil
}

func (t *txn) putWorkitem(uid string, w *workitem) error {
	return putJSON(t.Bucket(bWorkitems), []byte(uid), w)
}

func wsubKey(uid, ae string) []byte { return []byte(uid + "\x00" + ae) }

// subscribers lists the AEs subscribed to a workitem.
func (t *txn) subscribers(uid string) (map[string]wsub, error) {
	out := map[string]wsub{}
	prefix := []byte(uid + "\x00")
	c := t.Bucket(bWsubs).Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
		var s wsub
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		out[string(k[len(prefix):])] = s
	}
	return out, nil
}

func (t *txn) globals() (map[string]global, error) {
	out := map[string]global{}
	err := t.Bucket(bGlobals).ForEach(func(k, v []byte) error {
		var g global
		if err := json.Unmarshal(v, &g); err != nil {
			return err
		}
		out[string(k)] = g
		return nil
	})
	return out, err
}

// queue records an event report for one subscriber.
func (t *txn) queue(ae, uid string, typ uint16, final bool, attrs Dataset) error {
	return t.record([]string{ae}, uid, typ, final, attrs)
}

// emit records an event for every subscriber of the workitem.
func (t *txn) emit(uid string, typ uint16, final bool, attrs Dataset) error {
	subs, err := t.subscribers(uid)
	if err != nil {
		return err
	}
	aes := make([]string, 0, len(subs))
	for ae := range subs {
		aes = append(aes, ae)
	}
	return t.record(aes, uid, typ, final, attrs)
}

// record appends one event to the log and to each recipient's inbox.
func (t *txn) record(aes []string, uid string, typ uint16, final bool, attrs Dataset) error {
	if len(aes) == 0 {
		return nil
	}
	msg := attrs.Clone()
	msg.SetStr(tagAffectedSOPInst, "UI", uid)
	msg.SetUS(tagEventTypeID, typ)
	raw, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	events := t.Bucket(bEvents)
	seq, err := events.NextSequence()
	if err != nil {
		return err
	}
	if err := events.Put(seqKey(seq), raw); err != nil {
		return err
	}
	counters, inbox := t.Bucket(bCounters), t.Bucket(bInbox)
	for _, ae := range aes {
		n := getUint(counters, ae) + 1
		if err := counters.Put([]byte(ae), seqKey(n)); err != nil {
			return err
		}
		if err := putJSON(inbox, inboxKey(ae, seq), owed{Num: n, Time: t.now, UID: uid, Final: final}); err != nil {
			return err
		}
		t.woken[ae] = true
	}
	return nil
}

func getUint(b *bolt.Bucket, key string) uint64 {
	v := b.Get([]byte(key))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
