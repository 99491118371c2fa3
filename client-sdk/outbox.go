package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// OutboxFile is the name of the outbox file inside Options.OutboxDir.
const OutboxFile = "outbox.db"

// Buckets of the outbox file: envelopes waiting for the relay, keyed by a
// big-endian sequence number, and those the relay refused, with the reason.
var (
	bucketOutbox = []byte("outbox")
	bucketDead   = []byte("dead")
)

// outbox is the application's local queue of encoded envelopes (one bbolt
// file). Concurrent enqueues share a commit (bolt's Batch), and an
// envelope is on disk when enqueue returns.
type outbox struct {
	db     *bolt.DB
	signal chan struct{} // holds a token after an enqueue
}

// outboxEntry is one queued envelope.
type outboxEntry struct {
	seq uint64
	raw []byte
}

// openOutbox opens (or creates) the outbox in dir (Options.OutboxDir).
func openOutbox(dir string) (*outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("client: outbox dir: %w", err)
	}
	path := filepath.Join(dir, OutboxFile)
	if _, err := os.Stat(filepath.Join(dir, "relay.db")); err == nil {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("client: OutboxDir %s holds relay.db, the outbox format of earlier SDK versions: let the earlier version send what it holds, then remove relay.db", dir)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("client: outbox %s is locked: is another client using this OutboxDir?", path)
	}
	if err != nil {
		return nil, fmt.Errorf("client: open outbox %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOutbox, bucketDead} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("client: open outbox %s: %w", path, err)
	}
	return &outbox{db: db, signal: make(chan struct{}, 1)}, nil
}

// enqueue appends raw; it is durable when this returns.
func (o *outbox) enqueue(raw []byte) error {
	err := o.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), raw)
	})
	if err != nil {
		return err
	}
	select {
	case o.signal <- struct{}{}:
	default:
	}
	return nil
}

// read returns up to max entries, oldest first, at most maxBytes of them
// (but at least one).
func (o *outbox) read(max, maxBytes int) ([]outboxEntry, error) {
	var out []outboxEntry
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		size := 0
		for k, v := c.First(); k != nil && len(out) < max && (size < maxBytes || len(out) == 0); k, v = c.Next() {
			out = append(out, outboxEntry{seq: binary.BigEndian.Uint64(k), raw: append([]byte(nil), v...)})
			size += len(v)
		}
		return nil
	})
	return out, err
}

// remove deletes the entries with the given sequence numbers.
func (o *outbox) remove(seqs []uint64) error {
	return o.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for _, s := range seqs {
			if err := b.Delete(binary.BigEndian.AppendUint64(nil, s)); err != nil {
				return err
			}
		}
		return nil
	})
}

// deadLetter keeps raw with the reason the relay gave, under its sequence
// number (the caller removes it from the queue).
func (o *outbox) deadLetter(seq uint64, raw []byte, reason string) error {
	return o.db.Update(func(tx *bolt.Tx) error {
		v := binary.AppendUvarint(nil, uint64(len(reason)))
		v = append(append(v, reason...), raw...)
		return tx.Bucket(bucketDead).Put(binary.BigEndian.AppendUint64(nil, seq), v)
	})
}

func (o *outbox) close() error { return o.db.Close() }

// enqueueOutbox stores an encoded envelope in the outbox; it is durable
// when this returns.
func (c *Client) enqueueOutbox(raw []byte) error { return c.outbox.enqueue(raw) }

// forwardOutbox sends the outbox to the relay, oldest first, and removes
// what the relay accepted. What the relay refuses is kept as a dead letter
// in the outbox file and logged. It runs until the client closes.
func (c *Client) forwardOutbox() {
	defer c.wg.Done()
	for c.ctx.Err() == nil {
		entries, err := c.outbox.read(sendBatchMax, 1<<20)
		if err != nil {
			c.opts.Logger.Error("read outbox", "err", err)
			return
		}
		if len(entries) == 0 {
			select {
			case <-c.outbox.signal:
			case <-c.ctx.Done():
			}
			continue
		}
		reqs := make([]*sendReq, len(entries))
		for i, e := range entries {
			reqs[i] = &sendReq{raw: e.raw, done: make(chan error, 1)}
			select {
			case c.sends <- reqs[i]:
			case <-c.ctx.Done():
				return
			}
		}
		var done []uint64
		for i, r := range reqs {
			var err error
			select {
			case err = <-r.done:
			case <-c.ctx.Done():
				return
			}
			if errors.Is(err, ErrRefused) {
				c.opts.Logger.Error("relay refused an outbox envelope; kept as a dead letter in the outbox", "err", err)
				if err := c.outbox.deadLetter(entries[i].seq, entries[i].raw, err.Error()); err != nil {
					c.opts.Logger.Error("store outbox dead letter", "err", err)
					continue
				}
			} else if err != nil {
				time.Sleep(100 * time.Millisecond)
				break
			}
			done = append(done, entries[i].seq)
		}
		if len(done) > 0 {
			if err := c.outbox.remove(done); err != nil {
				c.opts.Logger.Error("remove from outbox", "err", err)
			}
		}
	}
}
