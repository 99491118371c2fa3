package worklist

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the worklist file. Keys of wsubs are workitem UID, NUL, AE
// title; events holds one nested bucket per subscriber AE whose keys are
// the subscriber's event numbers (big-endian, from the bucket sequence).
var (
	bWorkitems = []byte("workitems")
	bGlobals   = []byte("globals")
	bWsubs     = []byte("wsubs")
	bEvents    = []byte("events")
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

// event is a queued event report for one subscriber.
type event struct {
	Time  time.Time       `json:"t"`
	UID   string          `json:"uid"`
	Type  uint16          `json:"type"`
	Final bool            `json:"final,omitempty"`
	Msg   json.RawMessage `json:"msg"`
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

// queue appends an event report for one subscriber under its next number.
func (t *txn) queue(ae, uid string, typ uint16, final bool, attrs Dataset) error {
	b, err := t.Bucket(bEvents).CreateBucketIfNotExists([]byte(ae))
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	msg := attrs.Clone()
	msg.SetStr(tagAffectedSOPInst, "UI", uid)
	msg.SetUS(tagEventTypeID, typ)
	raw, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	t.woken[ae] = true
	return putJSON(b, seqKey(seq), event{Time: t.now, UID: uid, Type: typ, Final: final, Msg: raw})
}

// emit queues an event for every subscriber of the workitem.
func (t *txn) emit(uid string, typ uint16, final bool, attrs Dataset) error {
	subs, err := t.subscribers(uid)
	if err != nil {
		return err
	}
	for ae := range subs {
		if err := t.queue(ae, uid, typ, final, attrs); err != nil {
			return err
		}
	}
	return nil
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
