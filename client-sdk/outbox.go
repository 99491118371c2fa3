package client

import (
	"errors"
	"fmt"
	"time"

	"github.com/medrelay/medrelay/relay/store"
)

// outboxQueue is the queue name inside the client's outbox file.
const outboxQueue = "outbox"

// openOutbox opens the client's local outbox (Options.OutboxDir).
func openOutbox(dir string) (*store.Store, error) {
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, fmt.Errorf("client: open outbox: %w", err)
	}
	return s, nil
}

// enqueueOutbox stores an encoded envelope in the outbox; it is durable
// when this returns.
func (c *Client) enqueueOutbox(raw []byte) error {
	return c.outbox.Update(func(tx *store.Tx) error {
		_, err := tx.Enqueue(outboxQueue, raw)
		return err
	})
}

// forwardOutbox sends the outbox to the relay, oldest first, and removes
// what the relay accepted. What the relay refuses is kept as a dead letter
// in the outbox file and logged. It runs until the client closes.
func (c *Client) forwardOutbox() {
	defer c.wg.Done()
	sig := c.outbox.Signal(outboxQueue)
	for c.ctx.Err() == nil {
		entries, err := c.outbox.Read(outboxQueue, 0, sendBatchMax, 1<<20)
		if err != nil {
			c.opts.Logger.Error("read outbox", "err", err)
			return
		}
		if len(entries) == 0 {
			select {
			case <-sig:
			case <-c.ctx.Done():
			}
			continue
		}
		reqs := make([]*sendReq, len(entries))
		for i, e := range entries {
			reqs[i] = &sendReq{raw: e.Raw, done: make(chan error, 1)}
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
				raw := entries[i].Raw
				if err := c.outbox.Update(func(tx *store.Tx) error { return tx.DeadLetter(outboxQueue, raw, err.Error()) }); err != nil {
					c.opts.Logger.Error("store outbox dead letter", "err", err)
					continue
				}
			} else if err != nil {
				time.Sleep(100 * time.Millisecond)
				break
			}
			done = append(done, entries[i].Seq)
		}
		if len(done) > 0 {
			if err := c.outbox.Update(func(tx *store.Tx) error { return tx.Remove(outboxQueue, done) }); err != nil {
				c.opts.Logger.Error("remove from outbox", "err", err)
			}
		}
	}
}
