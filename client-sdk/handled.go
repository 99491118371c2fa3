package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/medrelay/medrelay/envelope"
)

// HandledFile is the name of the record of handled envelopes inside
// Options.StateDir (kept only by a client with Options.Receive).
const HandledFile = "handled.db"

// bucketHandled maps an envelope id to the time (big-endian Unix
// nanoseconds) after which the relay can no longer deliver it.
var bucketHandled = []byte("handled")

// pruneEvery is how often expired ids are removed from the record.
const pruneEvery = time.Hour

// handledLog is the durable record of the envelope ids whose handler ran
// (one bbolt file): an id is recorded, with one commit per received batch,
// before the batch is acknowledged, so a batch that a relay delivers again
// after a crash of the relay and a restart of the application is not
// handled twice. Ids are kept until the envelope could no longer be
// delivered (its expiry, and at least envelope.DefaultMaxTTL).
type handledLog struct {
	db        *bolt.DB
	lastPrune time.Time
}

// handledID is an envelope id whose handler ran, and when its record may go.
type handledID struct {
	id    string
	until time.Time
}

// openHandled opens (or creates) the record in dir (Options.StateDir) and
// drops what has expired.
func openHandled(dir string) (*handledLog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("client: state dir: %w", err)
	}
	path := filepath.Join(dir, HandledFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("client: %s is locked: is another receiving client using this StateDir? Give each receiving client its own", path)
	}
	if err != nil {
		return nil, fmt.Errorf("client: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketHandled)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("client: open %s: %w", path, err)
	}
	h := &handledLog{db: db}
	if err := h.prune(time.Now()); err != nil {
		db.Close()
		return nil, fmt.Errorf("client: open %s: %w", path, err)
	}
	return h, nil
}

// handledUntil is how long the record of env must be kept: until the
// relay can no longer deliver it.
func handledUntil(env *Envelope, now time.Time) time.Time {
	until := now.Add(envelope.DefaultMaxTTL)
	if exp := env.GetExpiresAt(); exp != nil && exp.AsTime().After(until) {
		until = exp.AsTime()
	}
	return until
}

// has reports whether the handler of id ran.
func (h *handledLog) has(id string) (bool, error) {
	var found bool
	err := h.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketHandled).Get([]byte(id)) != nil
		return nil
	})
	return found, err
}

// record stores ids in one commit; they are on disk when it returns.
func (h *handledLog) record(ids []handledID) error {
	if len(ids) == 0 {
		return nil
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHandled)
		for _, x := range ids {
			if err := b.Put([]byte(x.id), binary.BigEndian.AppendUint64(nil, uint64(x.until.UnixNano()))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if now := time.Now(); now.Sub(h.lastPrune) >= pruneEvery {
		return h.prune(now)
	}
	return nil
}

// prune removes the ids whose envelopes can no longer be delivered.
func (h *handledLog) prune(now time.Time) error {
	h.lastPrune = now
	return h.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHandled).Cursor()
		for k, v := c.First(); k != nil; {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= now.UnixNano() {
				k, v = c.Next()
				continue
			}
			next := append([]byte(nil), k...)
			if err := c.Delete(); err != nil {
				return err
			}
			k, v = c.Seek(next)
		}
		return nil
	})
}

func (h *handledLog) close() error { return h.db.Close() }
