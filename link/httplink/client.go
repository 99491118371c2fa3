package httplink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/link"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// ErrSessionGone reports that the relay no longer knows the session.
var ErrSessionGone = errors.New("http link session ended")

// DialOptions configure the client side of an HTTP link.
type DialOptions struct {
	// Client makes the requests (its Transport carries TLS settings).
	Client *http.Client
	// Token is sent as "Authorization: Bearer TOKEN" when set.
	Token string
	// Link: Timeout bounds how long requests are retried before the link
	// is given up; Window bounds pushes waiting to be sent.
	Link link.Options
	// Wait is how long each poll waits for envelopes (default 15s).
	Wait time.Duration
}

// Conn is the client side of an HTTP link: a session at the relay, a
// push loop sending batches one at a time, in order, and a poll loop.
type Conn struct {
	base string
	sid  string
	o    DialOptions

	pushes chan pushItem
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error
}

type pushItem struct {
	envs     [][]byte
	announce []string
	cb       link.AckFunc
}

// Open opens a session with hello at the relay at base (http[s]://host:port).
func Open(ctx context.Context, base string, hello *pb.Hello, o DialOptions) (*Conn, *pb.Welcome, error) {
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	o.Link = o.Link.WithDefaults()
	if o.Wait <= 0 {
		o.Wait = DefaultWait * time.Millisecond
	}
	c := &Conn{base: strings.TrimRight(base, "/"), o: o, done: make(chan struct{})}
	c.pushes = make(chan pushItem, o.Link.Window)
	var s pb.Session
	if err := c.call(ctx, PathSessions, hello, &s, 10*time.Second); err != nil {
		return nil, nil, err
	}
	c.sid = s.Session
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, &pb.Welcome{RelayId: s.RelayId, Role: s.Role, Version: s.Version}, nil
}

// Session returns the session id.
func (c *Conn) Session() string { return c.sid }

// Run starts the push and poll loops; h receives polled batches.
func (c *Conn) Run(h link.Handler) {
	c.wg.Add(2)
	go c.pushLoop()
	go c.pollLoop(h)
}

// Done is closed when the link has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the link ended (nil while it runs).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the session at the relay and the loops here.
func (c *Conn) Close(reason string) error {
	if c.fail(fmt.Errorf("%w: %s", link.ErrClosed, reason)) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, c.url("/"+c.sid), nil)
		if resp, err := c.o.Client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	c.wg.Wait()
	return nil
}

// fail ends the link once; it reports whether this call ended it.
func (c *Conn) fail(err error) bool {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return false
	}
	c.err = err
	c.mu.Unlock()
	close(c.done)
	if c.cancel != nil {
		c.cancel()
	}
	return true
}

// SendAsync queues a batch; cb runs once with the relay's answer or the
// error that ended the link. Batches are pushed one at a time, in order.
func (c *Conn) SendAsync(ctx context.Context, envs [][]byte, cb link.AckFunc) error {
	return c.enqueue(ctx, pushItem{envs: envs, cb: cb})
}

// Announce tells the parent the relays now under this child, in order
// with the batches pushed before and after.
func (c *Conn) Announce(subtree []string) error {
	return c.enqueue(context.Background(), pushItem{announce: subtree})
}

func (c *Conn) enqueue(ctx context.Context, it pushItem) error {
	select {
	case c.pushes <- it:
		return nil
	case <-c.done:
		return c.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Conn) closedErr() error {
	if err := c.Err(); err != nil {
		return fmt.Errorf("%w: %v", link.ErrClosed, err)
	}
	return link.ErrClosed
}

func (c *Conn) pushLoop() {
	defer c.wg.Done()
	defer c.drainPushes()
	for {
		select {
		case it := <-c.pushes:
			if it.announce != nil {
				if err := c.retry(func() error {
					return c.call(c.ctx, "/"+c.sid+"/announce", &pb.Announce{Subtree: it.announce}, &pb.Announce{}, 10*time.Second)
				}); err != nil {
					c.fail(err)
					return
				}
				continue
			}
			var res pb.PushResult
			err := c.retry(func() error {
				return c.callRaw(c.ctx, "/"+c.sid+"/push", EncodePush(it.envs), &res, 30*time.Second)
			})
			if err != nil {
				c.fail(err)
				it.cb(nil, c.closedErr())
				return
			}
			it.cb(&pb.Ack{Rejected: res.Rejected}, nil)
		case <-c.done:
			return
		}
	}
}

// drainPushes fails the batches still queued when the link ends.
func (c *Conn) drainPushes() {
	for {
		select {
		case it := <-c.pushes:
			if it.cb != nil {
				it.cb(nil, c.closedErr())
			}
		default:
			return
		}
	}
}

func (c *Conn) pollLoop(h link.Handler) {
	defer c.wg.Done()
	var ack uint64
	var rejected []*pb.Rejection
	for {
		var body []byte
		err := c.retry(func() error {
			var err error
			body, err = c.post(c.ctx, "/"+c.sid+"/poll", mustMarshal(&pb.Poll{Ack: ack, Rejected: rejected, WaitMs: uint32(c.o.Wait / time.Millisecond)}), c.o.Wait+c.o.Link.Timeout)
			return err
		})
		if err != nil {
			c.fail(err)
			return
		}
		cursor, envs, err := DecodePollResult(body)
		if err != nil {
			c.fail(fmt.Errorf("decode poll result: %w", err))
			return
		}
		if len(envs) == 0 || cursor <= ack {
			continue
		}
		got := make(chan []*pb.Rejection, 1)
		var once sync.Once
		h.Batch(&pb.Batch{Seq: cursor, Envelopes: envs}, func(rj []*pb.Rejection) {
			once.Do(func() { got <- rj })
		})
		select {
		case rejected = <-got:
			ack = cursor
		case <-c.done:
			return
		}
	}
}

// retry runs fn until it succeeds, the link ends, the relay says the
// session is gone, or the link's timeout passes without success: a lost
// answer is simply asked for again.
func (c *Conn) retry(fn func() error) error {
	deadline := time.Now().Add(c.o.Link.Timeout)
	wait := 50 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		var st *statusError
		if c.ctx.Err() != nil || errors.As(err, &st) && st.permanent() || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-c.done:
			return c.closedErr()
		}
		wait = min(2*wait, time.Second)
	}
}

func mustMarshal(m proto.Message) []byte {
	b, _ := proto.Marshal(m)
	return b
}

func (c *Conn) url(p string) string { return c.base + PathSessions + p }

// call POSTs a protobuf message and decodes the protobuf answer into res.
func (c *Conn) call(ctx context.Context, path string, req, res proto.Message, timeout time.Duration) error {
	if path == PathSessions {
		path = ""
	}
	return c.callRaw(ctx, path, mustMarshal(req), res, timeout)
}

func (c *Conn) callRaw(ctx context.Context, path string, body []byte, res proto.Message, timeout time.Duration) error {
	b, err := c.post(ctx, path, body, timeout)
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, res)
}

// statusError is an error answer of the relay.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return fmt.Sprintf("relay answered %d: %s", e.status, e.msg) }

// permanent reports answers that retrying cannot change.
func (e *statusError) permanent() bool {
	return e.status >= 400 && e.status < 500 || e.status == http.StatusGone
}

// Is lets callers test for link.ErrRefused (401, 403) and ErrSessionGone.
func (e *statusError) Is(target error) bool {
	switch target {
	case link.ErrRefused:
		return e.status == http.StatusUnauthorized || e.status == http.StatusForbidden || e.status == http.StatusBadRequest
	case ErrSessionGone:
		return e.status == http.StatusNotFound || e.status == http.StatusGone
	}
	return false
}

func (c *Conn) post(ctx context.Context, path string, body []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", TypeProtobuf)
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readBody(resp.Body, 64<<20)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{resp.StatusCode, errorText(b)}
	}
	return b, nil
}

func errorText(b []byte) string {
	var e errorBody
	if err := jsonUnmarshal(b, &e); err == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(b))
}
