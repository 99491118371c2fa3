package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Bounds of one batch the client sends: envelopes, and bytes (a batch
// holds at least one envelope; the relay's body limit keeps that one
// within a frame).
const (
	sendBatchMax   = 256
	sendBatchBytes = 1 << 20
)

// ErrRefused wraps the relay's reason for refusing an envelope.
var ErrRefused = errors.New("refused by relay")

// SendOption changes one envelope before it is sent.
type SendOption func(*pb.Envelope)

// WithCorrelation sets the id of the envelope this one answers.
func WithCorrelation(id string) SendOption {
	return func(e *pb.Envelope) { e.CorrelationId = id }
}

// WithTTL sets how long the envelope lives before it expires undelivered.
func WithTTL(d time.Duration) SendOption {
	return func(e *pb.Envelope) { e.ExpiresAt = timestamppb.New(e.CreatedAt.AsTime().Add(d)) }
}

// WithFiles attaches file references.
func WithFiles(files ...*pb.FileRef) SendOption {
	return func(e *pb.Envelope) { e.Files = append(e.Files, files...) }
}

// WithDeliveredReceipt asks for a receipt (command medrelay.receipt,
// status DELIVERED, correlation_id this envelope's id) once the target
// application has acknowledged the envelope.
func WithDeliveredReceipt() SendOption {
	return func(e *pb.Envelope) { e.Receipts = append(e.Receipts, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED) }
}

// AsEvent marks the envelope as an event rather than a command.
func AsEvent() SendOption {
	return func(e *pb.Envelope) { e.Kind = pb.Kind_KIND_EVENT }
}

type sendReq struct {
	n    uint64 // submission order, kept across retries
	id   string
	raw  []byte
	done chan error
}

// Send sends a command to the application at "relay/client" and returns
// the envelope's id once the relay has durably accepted it. It does not
// wait for the target. If ctx ends first, the envelope may still be
// delivered later.
func (c *Client) Send(ctx context.Context, to, command string, args map[string]string, body []byte, opts ...SendOption) (string, error) {
	dst, err := envelope.ParseAddress(to)
	if err != nil {
		return "", err
	}
	now := time.Now()
	e := &pb.Envelope{
		Id:        envelope.NewID(),
		From:      &pb.Address{Relay: c.relay, Client: c.opts.ID},
		To:        dst,
		Command:   command,
		Args:      args,
		Body:      body,
		CreatedAt: timestamppb.New(now),
		Kind:      pb.Kind_KIND_COMMAND,
	}
	if c.opts.TTL > 0 {
		e.ExpiresAt = timestamppb.New(now.Add(c.opts.TTL))
	}
	for _, o := range opts {
		o(e)
	}
	return c.SendEnvelope(ctx, e)
}

// Reply answers env: it sends command to env's sender with correlation_id
// set to env's id.
func (c *Client) Reply(ctx context.Context, env *Envelope, command string, args map[string]string, body []byte, opts ...SendOption) (string, error) {
	return c.Send(ctx, envelope.FormatAddress(env.From), command, args, body, append([]SendOption{WithCorrelation(env.Id)}, opts...)...)
}

// SendEnvelope sends a prepared envelope. From is set to this client.
func (c *Client) SendEnvelope(ctx context.Context, e *pb.Envelope) (string, error) {
	e.From = &pb.Address{Relay: c.relay, Client: c.opts.ID}
	if e.Id == "" {
		e.Id = envelope.NewID()
	}
	if err := envelope.Validate(e, c.maxBody()); err != nil {
		return "", fmt.Errorf("%w (relay %s, limits.max_body_bytes)", err, c.relay)
	}
	raw, err := proto.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode envelope: %w", err)
	}
	if c.outbox != nil {
		if err := c.enqueueOutbox(raw); err != nil {
			return "", fmt.Errorf("store in outbox: %w", err)
		}
		return e.Id, nil
	}
	r := &sendReq{id: e.Id, raw: raw, done: make(chan error, 1)}
	select {
	case c.sends <- r:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.ctx.Done():
		return "", ErrClosed
	}
	select {
	case err := <-r.done:
		if err != nil {
			return "", err
		}
		return e.Id, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.ctx.Done():
		return "", ErrClosed
	}
}

// sendLoop gathers pending sends into batches and sends them on the
// current link, in submission order. Batches lost with a link are sent
// again, first and in order, on the next one: nothing goes on a new link
// until every batch sent on the old one is acknowledged or handed back, so
// envelopes from one sender keep their order across reconnects.
func (c *Client) sendLoop() {
	defer c.wg.Done()
	var next uint64
	var backlog []*sendReq
	var last link.Link
	var inflight sync.WaitGroup // batches sent on last, not yet settled
	take := func(r *sendReq) {
		next++
		r.n = next
		backlog = append(backlog, r)
	}
	for {
		if len(backlog) == 0 {
			select {
			case r := <-c.sends:
				take(r)
			case <-c.lostKick:
			case <-c.ctx.Done():
				return
			}
		}
		for more := true; more && len(backlog) < sendBatchMax; {
			select {
			case r := <-c.sends:
				take(r)
			default:
				more = false
			}
		}
		conn, err := c.currentConn(c.ctx)
		if err != nil {
			return
		}
		if conn != last {
			inflight.Wait()
			last = conn
		}
		backlog = mergeByOrder(backlog, c.takeLost())
		if len(backlog) == 0 {
			continue
		}
		n, size := 0, 0
		for n < len(backlog) && n < sendBatchMax && (n == 0 || size+len(backlog[n].raw) <= sendBatchBytes) {
			size += len(backlog[n].raw)
			n++
		}
		batch := slices.Clone(backlog[:n])
		backlog = backlog[n:]
		raws := make([][]byte, len(batch))
		for i, r := range batch {
			raws[i] = r.raw
		}
		inflight.Add(1)
		err = conn.SendAsync(c.ctx, raws, func(ack *pb.Ack, err error) {
			c.settle(batch, ack, err)
			inflight.Done()
		})
		if err != nil {
			inflight.Done()
			backlog = mergeByOrder(backlog, batch)
		}
	}
}

// settle finishes the sends of one batch, or hands them back for a retry
// when the link was lost.
func (c *Client) settle(batch []*sendReq, ack *pb.Ack, err error) {
	if err != nil {
		if errors.Is(err, link.ErrClosed) && c.ctx.Err() == nil {
			c.lostMu.Lock()
			c.lost = append(c.lost, batch...)
			c.lostMu.Unlock()
			select {
			case c.lostKick <- struct{}{}:
			default:
			}
			return
		}
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	refused := make(map[uint32]string, len(ack.Rejected))
	for _, rj := range ack.Rejected {
		refused[rj.Index] = rj.Reason
	}
	for i, r := range batch {
		if reason, ok := refused[uint32(i)]; ok {
			r.done <- fmt.Errorf("%w: %s", ErrRefused, reason)
		} else {
			r.done <- nil
		}
	}
}

// takeLost returns the sends lost with a link, to be sent again.
func (c *Client) takeLost() []*sendReq {
	c.lostMu.Lock()
	defer c.lostMu.Unlock()
	l := c.lost
	c.lost = nil
	return l
}

func mergeByOrder(a, b []*sendReq) []*sendReq {
	out := append(a, b...)
	slices.SortFunc(out, func(x, y *sendReq) int { return cmp.Compare(x.n, y.n) })
	return out
}

// maxBody is the relay's body limit, from its hello (1 MiB, the default
// limit, before the first hello or from a relay that does not say).
func (c *Client) maxBody() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hello != nil && c.hello.MaxBodyBytes > 0 {
		return c.hello.MaxBodyBytes
	}
	return envelope.DefaultMaxBody
}
