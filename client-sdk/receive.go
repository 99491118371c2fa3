package client

import (
	"container/list"

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
			if !c.handleBatch(d.batch) {
				return
			}
			d.ack(nil)
		case <-c.ctx.Done():
			return
		}
	}
}

// handleBatch runs the handlers of one batch. It returns false when the
// client closed before the batch was done (the batch stays unacknowledged
// and the relay delivers it again).
func (c *Client) handleBatch(b *pb.Batch) bool {
	for _, raw := range b.Envelopes {
		env, err := envelope.Decode(raw)
		if err != nil {
			c.opts.Logger.Error("drop undecodable envelope", "err", err)
			continue
		}
		if c.seen.seen(env.Id) {
			continue
		}
		h := c.waitHandler(env.Command)
		if h == nil {
			c.seen.forget(env.Id)
			return false
		}
		if err := h(c.ctx, env); err != nil {
			if c.ctx.Err() != nil {
				// Failed because the client is closing: leave it queued.
				c.seen.forget(env.Id)
				return false
			}
			c.opts.Logger.Warn("handler failed", "command", env.Command, "id", env.Id, "err", err)
		}
	}
	return true
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
