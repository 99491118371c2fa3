// Package link runs medrelay's link protocol on one established stream (a
// TCP connection or a QUIC stream): batches of envelopes and their
// acknowledgements in both directions, subtree announcements, heartbeats
// and a clean goodbye.
//
// A Conn pairs a reader and a writer goroutine: either failing ends both,
// and every batch still waiting for its acknowledgement is failed so its
// sender can resend it on the next connection. The package does not dial,
// listen, store or route: package hello dials, and the relay listens,
// stores and routes.
//
// The packages under link/ (wire, httplink, quiclink, hello, tlsconf) and
// package envelope are the protocol that relays, nodes, the client SDK and
// the CLIs share: nothing in them imports the relay (package relay and
// those under relay/), so an application linking the SDK never links the
// server.
package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/medrelay/medrelay/link/wire"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Stream is what a Conn runs on.
type Stream interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// ErrClosed is returned for batches that were in flight when the Conn
// closed, and by sends after it closed.
var ErrClosed = errors.New("link closed")

// Handler receives what the peer sends. Its methods are called from the
// reader goroutine, in order; they must not block for long.
type Handler interface {
	// Batch is called for each batch received. The handler calls ack
	// exactly once, from any goroutine, after the envelopes are durably
	// stored (or refused). ack never blocks.
	Batch(b *pb.Batch, ack func(rejected []*pb.Rejection))
	// Announce is called when a child relay announces a new subtree.
	Announce(subtree []string)
}

// Options configure a Conn. Zero values mean the defaults.
type Options struct {
	// MaxFrame bounds frames in both directions (default wire.DefaultMaxFrame).
	MaxFrame int
	// MaxHello bounds the first frame AwaitHello reads, before the peer is
	// admitted (default MaxFrame): an unauthenticated peer then makes the
	// accepting side allocate at most this much.
	MaxHello int
	// Heartbeat is how often a frame is sent when nothing else was (default 1s).
	Heartbeat time.Duration
	// Timeout ends the link when nothing arrives for this long (default 5s).
	Timeout time.Duration
	// Window is how many batches may wait for acknowledgement (default 64).
	Window int
}

// AckFunc receives the peer's acknowledgement of a batch, or an error when
// the link closed first.
type AckFunc func(ack *pb.Ack, err error)

// Conn is one link on one stream.
type Conn struct {
	s    Stream
	opts Options
	r    *wire.Reader
	w    *wire.Writer

	// out holds frames to write, in order. They leave it only under wmu,
	// either in the goroutine that queued them (when nobody else was
	// writing) or in writeLoop, which wake calls for.
	out           chan *pb.Frame
	wake          chan struct{}
	wmu           sync.Mutex
	lastWrite     time.Time // under wmu
	writeDeadline time.Time // when it was last set, under wmu

	window chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]AckFunc
	err     error
	started bool
}

// New wraps a stream. Use ReadFrame and WriteFrame for the handshake, then Run.
func New(s Stream, opts Options) *Conn {
	opts = opts.WithDefaults()
	return &Conn{
		s:       s,
		opts:    opts,
		r:       wire.NewReader(s, opts.MaxFrame),
		w:       wire.NewWriter(s, opts.MaxFrame),
		out:     make(chan *pb.Frame, 4*opts.Window),
		wake:    make(chan struct{}, 1),
		window:  make(chan struct{}, opts.Window),
		done:    make(chan struct{}),
		pending: make(map[uint64]AckFunc),
	}
}

// ReadFrame reads one frame with a deadline. Only for the handshake.
func (c *Conn) ReadFrame(timeout time.Duration) (*pb.Frame, error) {
	c.s.SetReadDeadline(time.Now().Add(timeout))
	defer c.s.SetReadDeadline(time.Time{})
	return c.r.Read()
}

// WriteFrame writes and flushes one frame. Only for the handshake.
func (c *Conn) WriteFrame(f *pb.Frame, timeout time.Duration) error {
	c.s.SetWriteDeadline(time.Now().Add(timeout))
	defer c.s.SetWriteDeadline(time.Time{})
	if err := c.w.Write(f); err != nil {
		return err
	}
	return c.w.Flush()
}

// Run starts the reader and writer goroutines. h receives what arrives.
func (c *Conn) Run(h Handler) {
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	c.wg.Add(2)
	go c.readLoop(h)
	go c.writeLoop()
}

// Done is closed when the link has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the link ended (nil while it runs).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the link, telling the peer why, and waits for its goroutines.
// Frames queued before the goodbye (acknowledgements, say) are sent first.
func (c *Conn) Close(reason string) error {
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if started {
		select {
		case c.out <- &pb.Frame{Msg: &pb.Frame_Goodbye{Goodbye: &pb.Goodbye{Reason: reason}}}:
			c.wakeWriter()
			select {
			case <-c.done:
			case <-time.After(time.Second):
			}
		case <-c.done:
		case <-time.After(time.Second):
		}
	}
	c.fail(fmt.Errorf("%w: %s", ErrClosed, reason))
	c.wg.Wait()
	return nil
}

// fail ends the link once: closes the stream and fails pending batches.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	close(c.done)
	// Give the writer a moment to send a goodbye before the stream closes.
	time.AfterFunc(50*time.Millisecond, func() { c.s.Close() })
	for _, cb := range pending {
		cb(nil, fmt.Errorf("%w: %v", ErrClosed, err))
	}
}

// SendAsync sends a batch of encoded envelopes. It blocks while the window
// is full; cb runs once, from a link goroutine, with the acknowledgement or
// the error that ended the link. When SendAsync returns an error, cb never
// runs.
func (c *Conn) SendAsync(ctx context.Context, envs [][]byte, cb AckFunc) error {
	select {
	case c.window <- struct{}{}:
	case <-c.done:
		return c.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		<-c.window
		return c.closedErr()
	}
	c.seq++
	seq := c.seq
	c.pending[seq] = cb
	c.mu.Unlock()
	if err := c.push(&pb.Frame{Msg: &pb.Frame_Batch{Batch: &pb.Batch{Seq: seq, Envelopes: envs}}}); err != nil {
		c.mu.Lock()
		_, mine := c.pending[seq] // false once fail took them: it runs cb
		delete(c.pending, seq)
		c.mu.Unlock()
		if !mine {
			return nil
		}
		<-c.window
		return err
	}
	return nil
}

// Send sends a batch and waits for its acknowledgement.
func (c *Conn) Send(ctx context.Context, envs [][]byte) (*pb.Ack, error) {
	type result struct {
		ack *pb.Ack
		err error
	}
	ch := make(chan result, 1)
	if err := c.SendAsync(ctx, envs, func(a *pb.Ack, err error) { ch <- result{a, err} }); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.ack, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Announce tells the parent the relays now under this child.
func (c *Conn) Announce(subtree []string) error {
	// Left to writeLoop: a relay announces from another link's reader,
	// which must not wait on this link's peer.
	select {
	case c.out <- &pb.Frame{Msg: &pb.Frame_Announce{Announce: &pb.Announce{Subtree: subtree}}}:
		c.wakeWriter()
		return nil
	case <-c.done:
		return c.closedErr()
	}
}

// ack queues an acknowledgement for writeLoop without blocking: handlers
// may call it from a relay's store writer, which must never wait on a
// slow peer.
func (c *Conn) ack(seq uint64, rejected []*pb.Rejection) {
	f := &pb.Frame{Msg: &pb.Frame_Ack{Ack: &pb.Ack{Seq: seq, Rejected: rejected}}}
	select {
	case c.out <- f:
		c.wakeWriter()
	default:
		go c.push(f)
	}
}

// push queues f and writes what is queued unless another goroutine is
// writing, which then writes f too. Writing here instead of handing every
// frame to writeLoop saves a goroutine wake-up per batch.
func (c *Conn) push(f *pb.Frame) error {
	select {
	case c.out <- f:
	case <-c.done:
		return c.closedErr()
	}
	for c.wmu.TryLock() {
		c.writeQueued()
		c.wmu.Unlock()
		// A frame queued while we held the lock found it taken, and its
		// sender left it to us; frames left on a failed link stay unsent.
		if len(c.out) == 0 || c.Err() != nil {
			break
		}
	}
	return nil
}

func (c *Conn) wakeWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Conn) closedErr() error {
	if err := c.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return ErrClosed
}
