package client

import (
	"container/list"
	"time"

	"github.com/medrelay/medrelay/envelope"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Handle registers h for envelopes whose command is command. The empty
// command registers the default handler, for commands without their own.
// Receipts from relays have the command "medrelay.receipt".
func (c *Client) Handle(command string, h Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers[command] = h
	close(c.handlerC)
	c.handlerC = make(chan struct{})
}

func (c *Client) handlerFor(command string) (Handler, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.handlers[command]; ok {
		return h, nil
	}
	if h, ok := c.handlers[""]; ok {
		return h, nil
	}
	return nil, c.handlerC
}

// delivery is a received batch waiting for the handlers.
type delivery struct {
	batch *pb.Batch
	ack   func([]*pb.Rejection)
}

// receiver is the link.Handler of the client's links.
type receiver struct{ c *Client }

func (r *receiver) Batch(b *pb.Batch, ack func([]*pb.Rejection)) {
	select {
	case r.c.deliveries <- delivery{b, ack}:
	case <-r.c.ctx.Done():
	}
}

func (r *receiver) Announce([]string) {}

// dispatchLoop runs handlers, one envelope at a time in arrival order, and
// acknowledges each batch when its last envelope is handled.
func (c *Client) dispatchLoop() {
	defer c.wg.Done()
	defer close(c.dispatchDone)
	for {
		select {
		case d := <-c.deliveries:
			handled, done := c.handleBatch(d.batch)
			if c.handled != nil {
				// On disk before the ack: a relay that lost the ack
				// delivers the batch again, maybe to a restarted client.
				if err := c.handled.record(handled); err != nil {
					c.opts.Logger.Error("record handled envelopes", "err", err)
				}
			}
			if !done {
				return
			}
			d.ack(nil)
		case <-c.ctx.Done():
			return
		}
	}
}

// handleBatch runs the handlers of one batch and returns the ids whose
// handler ran. done is false when the client closed before the batch was
// done (the batch stays unacknowledged and the relay delivers it again).
func (c *Client) handleBatch(b *pb.Batch) (handled []handledID, done bool) {
	for _, raw := range b.Envelopes {
		env, err := envelope.Decode(raw)
		if err != nil {
			c.opts.Logger.Error("drop undecodable envelope", "err", err)
			continue
		}
		if c.seen.seen(env.Id) || c.handledBefore(env.Id) {
			continue
		}
		h := c.waitHandler(env.Command)
		if h == nil {
			c.seen.forget(env.Id)
			return handled, false
		}
		if err := h(c.ctx, env); err != nil {
			if c.ctx.Err() != nil {
				// Failed because the client is closing: leave it queued.
				c.seen.forget(env.Id)
				return handled, false
			}
			c.opts.Logger.Warn("handler failed", "command", env.Command, "id", env.Id, "err", err)
		}
		handled = append(handled, handledID{env.Id, handledUntil(env, time.Now())})
	}
	return handled, true
}

// handledBefore reports whether the durable record (Options.StateDir)
// holds id: its handler ran before the application restarted.
func (c *Client) handledBefore(id string) bool {
	if c.handled == nil {
		return false
	}
	found, err := c.handled.has(id)
	if err != nil {
		c.opts.Logger.Error("read handled envelopes", "err", err)
	}
	return found
}

// waitHandler returns the handler for command, waiting until one is
// registered; nil when the client closed.
func (c *Client) waitHandler(command string) Handler {
	for {
		h, changed := c.handlerFor(command)
		if h != nil {
			return h
		}
		select {
		case <-changed:
		case <-c.ctx.Done():
			return nil
		}
	}
}

// recentIDs remembers the last n envelope ids a client handled.
type recentIDs struct {
	n     int
	order *list.List
	ids   map[string]*list.Element
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{n: n, order: list.New(), ids: make(map[string]*list.Element)}
}

// seen reports whether id was seen, and remembers it.
func (r *recentIDs) seen(id string) bool {
	if _, ok := r.ids[id]; ok {
		return true
	}
	r.ids[id] = r.order.PushBack(id)
	if r.order.Len() > r.n {
		old := r.order.Remove(r.order.Front()).(string)
		delete(r.ids, old)
	}
	return false
}

func (r *recentIDs) forget(id string) {
	if e, ok := r.ids[id]; ok {
		r.order.Remove(e)
		delete(r.ids, id)
	}
}
