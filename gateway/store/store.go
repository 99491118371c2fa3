// Package store is a gateway's job database: one bbolt file under data_dir
// that records every study transfer and every instance in it, so that each
// step of the pipeline (receive, upload, announce, download, C-STORE,
// receipt, cleanup) is resumed from disk after a crash or kill -9.
//
// Records are JSON values in a few buckets:
//
//	transfers   side \x00 study \x00 peer → Transfer
//	instances   (one nested bucket per transfer key) SOP instance UID → Instance
//	delivered   destination \x00 SOP instance UID → SHA-256 (receiving side)
//	sent        peer \x00 destination \x00 SOP instance UID → SHA-256 (sending side)
//	pulls       study → Pull
//
// Every change is one bbolt transaction, committed (fsynced) before the
// caller acts on it. The store holds no instance bytes: those are files
// whose paths the records name.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var (
	bTransfers = []byte("transfers")
	bInstances = []byte("instances")
	bDelivered = []byte("delivered")
	bSent      = []byte("sent")
	bPulls     = []byte("pulls")
)

// Sides of a transfer.
const (
	Outgoing = "outgoing"
	Incoming = "incoming"
)

// States of a transfer (the contract's names).
const (
	Receiving    = "receiving"
	Complete     = "complete"
	Uploading    = "uploading"
	Announced    = "announced"
	Downloading  = "downloading"
	Storing      = "storing"
	Acknowledged = "acknowledged"
	Failed       = "failed"
)

// States of an instance.
const (
	IPending        = "pending"         // outgoing: staged; incoming: to download
	IUploaded       = "uploaded"        // outgoing: in object storage
	IKnown          = "known"           // outgoing: delivered before with this SHA-256: not uploaded
	IRequested      = "requested"       // incoming: asked again from the sender
	IDownloaded     = "downloaded"      // incoming: verified on local disk
	IStored         = "stored"          // incoming: the destination answered success
	IAlreadyPresent = "already_present" // incoming: delivered before with this SHA-256
	IFailed         = "failed"          // incoming: given up, with status and reason
)

// ErrNotFound is returned for a record that does not exist.
var ErrNotFound = errors.New("not found")

// Failure is one instance that was not delivered.
type Failure struct {
	SOPInstanceUID string `json:"sop_instance_uid"`
	Status         string `json:"status,omitempty"` // DICOM status, hex, when one was answered
	Reason         string `json:"reason"`
	Step           string `json:"step"`
}

// Transfer is one study going to one peer (outgoing) or coming from one
// (incoming). Its JSON form is what the HTTP API and dicomgw studies show.
type Transfer struct {
	StudyUID       string `json:"study_uid"`
	Side           string `json:"side"`
	Peer           string `json:"peer"`
	Destination    string `json:"destination"`
	State          string `json:"state"`
	Instances      int    `json:"instances"`
	Stored         int    `json:"stored"`
	AlreadyPresent int    `json:"already_present"`
	Failed         int    `json:"failed"`
	Error          string `json:"error"`

	Round       int       `json:"round"`      // increases each time the study is sent again
	Uploaded    int       `json:"uploaded"`   // outgoing: instances in storage this round
	Downloaded  int       `json:"downloaded"` // incoming: instances verified on disk
	Bytes       int64     `json:"bytes"`
	NewVersions []string  `json:"new_versions,omitempty"`
	Failures    []Failure `json:"failures,omitempty"`
	Updated     time.Time `json:"updated"`

	CompleteOnRelease bool      `json:"complete_on_release,omitempty"`
	LastInstance      time.Time `json:"last_instance,omitzero"`
	Pull              bool      `json:"pull,omitempty"`        // outgoing: waiting for a C-MOVE to end
	AnnounceID        string    `json:"announce_id,omitempty"` // outgoing: the study.available envelope
	Requesters        []string  `json:"requesters,omitempty"`  // outgoing: addresses told of the receipt
	RequestedAt       time.Time `json:"requested_at,omitzero"` // incoming: missing instances asked for
	Finished          time.Time `json:"finished,omitzero"`     // acknowledged or failed
	Cleaned           bool      `json:"cleaned,omitempty"`     // staged copies removed
	Correlation       string    `json:"correlation,omitempty"` // incoming: the announce envelope id
	ReceiptID         string    `json:"receipt_id,omitempty"`  // incoming: the study.received envelope
	// Gen counts the times an incoming transfer was started over (a new
	// round); workers check it to drop results of an older one.
	Gen int `json:"gen,omitempty"`
	// Final: the incoming transfer has its whole manifest (partial
	// announces only add instances); the receipt waits for it.
	Final bool `json:"final,omitempty"`
}

// Key is the transfer's key in the store.
func (t *Transfer) Key() []byte { return TransferKey(t.Side, t.StudyUID, t.Peer) }

// TransferKey builds a transfer's key.
func TransferKey(side, study, peer string) []byte {
	return []byte(side + "\x00" + study + "\x00" + peer)
}

// Terminal reports whether nothing more happens to the transfer.
func (t *Transfer) Terminal() bool { return t.State == Acknowledged || t.State == Failed }

// Instance is one SOP instance of a transfer.
type Instance struct {
	SOPInstanceUID string `json:"sop_instance_uid"`
	SOPClassUID    string `json:"sop_class_uid"`
	SeriesUID      string `json:"series_uid"`
	TransferSyntax string `json:"transfer_syntax"`
	Modality       string `json:"modality,omitempty"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256"`
	Path           string `json:"path,omitempty"`   // the staged Part 10 file
	Key            string `json:"key,omitempty"`    // object key in storage
	Holder         string `json:"holder,omitempty"` // FileRef.Store of the object
	Bucket         string `json:"bucket,omitempty"` // FileRef.Bucket of the object
	State          string `json:"state"`
	Round          int    `json:"round"`

	Attempts   int       `json:"attempts,omitempty"`
	NextTry    time.Time `json:"next_try,omitzero"`
	Status     string    `json:"status,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Step       string    `json:"step,omitempty"`
	NewVersion bool      `json:"new_version,omitempty"`
	Asked      int       `json:"asked,omitempty"` // incoming: times asked again from the sender
	Told       int       `json:"told,omitempty"`  // outgoing: the round in which a partial announce named it
}

// Pull is a send-study job: C-FIND then C-MOVE from a peer to us.
type Pull struct {
	StudyUID    string    `json:"study_uid"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Destination string    `json:"destination"`
	Requester   string    `json:"requester,omitempty"`
	Expected    int       `json:"expected"`
	State       string    `json:"state"` // pending, moving, done, failed
	Error       string    `json:"error,omitempty"`
	Attempts    int       `json:"attempts"`
	NextTry     time.Time `json:"next_try,omitzero"`
	Created     time.Time `json:"created"`
}

// Store is the job database.
type Store struct {
	db    *bolt.DB
	group group
}

// Open opens (creating) dir/gateway.db.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open job database: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "gateway.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open job database %s: %w", filepath.Join(dir, "gateway.db"), err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bTransfers, bInstances, bDelivered, bSent, bPulls} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open job database: %w", err)
	}
	s := &Store{db: db}
	s.group.db = db
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Update runs fn in one read-write transaction, committed before it returns.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx}) })
}

// ViewOrUpdate runs fn read-only, and again in a read-write transaction
// only when it tries to write: a check that usually changes nothing
// costs no commit (and no fsync).
func (s *Store) ViewOrUpdate(fn func(*Tx) error) error {
	err := s.View(fn)
	if errors.Is(err, berrors.ErrTxNotWritable) {
		return s.Update(fn)
	}
	return err
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx}) })
}

// Tx is a transaction with the gateway's record helpers.
type Tx struct{ tx *bolt.Tx }

func put(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

// Transfer reads a transfer.
func (t *Tx) Transfer(side, study, peer string) (*Transfer, error) {
	raw := t.tx.Bucket(bTransfers).Get(TransferKey(side, study, peer))
	if raw == nil {
		return nil, ErrNotFound
	}
	var tr Transfer
	return &tr, json.Unmarshal(raw, &tr)
}

// PutTransfer writes a transfer, stamping Updated.
func (t *Tx) PutTransfer(tr *Transfer) error {
	tr.Updated = time.Now().UTC()
	return put(t.tx.Bucket(bTransfers), tr.Key(), tr)
}

// Transfers calls fn for every transfer, in key order.
func (t *Tx) Transfers(fn func(*Transfer) error) error {
	return t.tx.Bucket(bTransfers).ForEach(func(_, v []byte) error {
		var tr Transfer
		if err := json.Unmarshal(v, &tr); err != nil {
			return err
		}
		return fn(&tr)
	})
}

func (t *Tx) instBucket(tr *Transfer, create bool) (*bolt.Bucket, error) {
	b := t.tx.Bucket(bInstances)
	if create {
		return b.CreateBucketIfNotExists(tr.Key())
	}
	return b.Bucket(tr.Key()), nil
}

// Instance reads one instance of a transfer.
func (t *Tx) Instance(tr *Transfer, sop string) (*Instance, error) {
	b, _ := t.instBucket(tr, false)
	if b == nil {
		return nil, ErrNotFound
	}
	raw := b.Get([]byte(sop))
	if raw == nil {
		return nil, ErrNotFound
	}
	var in Instance
	return &in, json.Unmarshal(raw, &in)
}

// PutInstance writes one instance of a transfer.
func (t *Tx) PutInstance(tr *Transfer, in *Instance) error {
	b, err := t.instBucket(tr, true)
	if err != nil {
		return err
	}
	return put(b, []byte(in.SOPInstanceUID), in)
}

// DeleteInstance removes one instance record of a transfer.
func (t *Tx) DeleteInstance(tr *Transfer, sop string) error {
	b, _ := t.instBucket(tr, false)
	if b == nil {
		return nil
	}
	return b.Delete([]byte(sop))
}

// ClearInstances removes every instance record of a transfer.
func (t *Tx) ClearInstances(tr *Transfer) error {
	if t.tx.Bucket(bInstances).Bucket(tr.Key()) == nil {
		return nil
	}
	return t.tx.Bucket(bInstances).DeleteBucket(tr.Key())
}

// Instances calls fn for each instance of a transfer, in UID order.
func (t *Tx) Instances(tr *Transfer, fn func(*Instance) error) error {
	b, _ := t.instBucket(tr, false)
	if b == nil {
		return nil
	}
	return b.ForEach(func(_, v []byte) error {
		var in Instance
		if err := json.Unmarshal(v, &in); err != nil {
			return err
		}
		return fn(&in)
	})
}

// Delivered returns the SHA-256 last delivered to dest for sop, or "".
func (t *Tx) Delivered(dest, sop string) string {
	return string(t.tx.Bucket(bDelivered).Get([]byte(dest + "\x00" + sop)))
}

// SetDelivered records that sop with sha was delivered to dest.
func (t *Tx) SetDelivered(dest, sop, sha string) error {
	return t.tx.Bucket(bDelivered).Put([]byte(dest+"\x00"+sop), []byte(sha))
}

// Sent returns the SHA-256 the peer confirmed for sop at dest, or "".
func (t *Tx) Sent(peer, dest, sop string) string {
	return string(t.tx.Bucket(bSent).Get([]byte(peer + "\x00" + dest + "\x00" + sop)))
}

// SetSent records the peer's confirmation of sop with sha at dest.
func (t *Tx) SetSent(peer, dest, sop, sha string) error {
	return t.tx.Bucket(bSent).Put([]byte(peer+"\x00"+dest+"\x00"+sop), []byte(sha))
}

// Pull reads a pull job.
func (t *Tx) Pull(study string) (*Pull, error) {
	raw := t.tx.Bucket(bPulls).Get([]byte(study))
	if raw == nil {
		return nil, ErrNotFound
	}
	var p Pull
	return &p, json.Unmarshal(raw, &p)
}

// PutPull writes a pull job.
func (t *Tx) PutPull(p *Pull) error { return put(t.tx.Bucket(bPulls), []byte(p.StudyUID), p) }

// Pulls calls fn for each pull job.
func (t *Tx) Pulls(fn func(*Pull) error) error {
	return t.tx.Bucket(bPulls).ForEach(func(_, v []byte) error {
		var p Pull
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		return fn(&p)
	})
}
