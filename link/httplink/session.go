package httplink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/medrelay/medrelay/link"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Session is the relay's side of one HTTP link. It offers the routing
// core what a stream link offers: SendAsync queues a batch for the next
// poll, and the poll after that acknowledges it; pushed batches go to the
// Handler given to Run.
type Session struct {
	id     string
	window chan struct{}
	ready  chan struct{} // closed by Run
	done   chan struct{}

	pushMu sync.Mutex // keeps pushed batches in arrival order

	mu       sync.Mutex
	h        link.Handler
	seq      uint64
	out      []*outBatch // handed out or waiting, unacknowledged, in order
	handed   uint64      // the highest batch a poll handed out
	changed  chan struct{}
	active   int // requests in progress
	lastSeen time.Time
	err      error
}

type outBatch struct {
	seq  uint64
	envs [][]byte
	cb   link.AckFunc
}

func newSession(id string, window int) *Session {
	return &Session{
		id:       id,
		window:   make(chan struct{}, window),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
		changed:  make(chan struct{}),
		lastSeen: time.Now(),
	}
}

// ID returns the session id.
func (s *Session) ID() string { return s.id }

// Run sets the handler of pushed batches and announcements.
func (s *Session) Run(h link.Handler) {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
	close(s.ready)
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended (nil while it runs).
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the session; batches not yet acknowledged fail with
// link.ErrClosed, so their queue sends them again on the next link.
func (s *Session) Close(reason string) error {
	s.fail(fmt.Errorf("%w: %s", link.ErrClosed, reason))
	return nil
}

func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	out := s.out
	s.out = nil
	s.mu.Unlock()
	close(s.done)
	for _, b := range out {
		b.cb(nil, err)
	}
}

// Announce does nothing: a parent announces nothing to its children.
func (s *Session) Announce([]string) error { return nil }

// SendAsync queues a batch for the poller. It blocks while the window is
// full; cb runs once, with the acknowledgement the next poll carries or
// with the error that ended the session.
func (s *Session) SendAsync(ctx context.Context, envs [][]byte, cb link.AckFunc) error {
	select {
	case s.window <- struct{}{}:
	case <-s.done:
		return s.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		<-s.window
		return s.closedErr()
	}
	s.seq++
	s.out = append(s.out, &outBatch{seq: s.seq, envs: envs, cb: cb})
	s.broadcastLocked()
	s.mu.Unlock()
	return nil
}

func (s *Session) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Session) closedErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return link.ErrClosed
}

// begin and end bracket a request; a session without requests expires.
func (s *Session) begin() {
	s.mu.Lock()
	s.active++
	s.mu.Unlock()
}

func (s *Session) end() {
	s.mu.Lock()
	s.active--
	s.lastSeen = time.Now()
	s.mu.Unlock()
}

// idleSince returns when the last request ended, or zero while one runs.
func (s *Session) idleSince() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active > 0 {
		return time.Time{}
	}
	return s.lastSeen
}

// poll acknowledges batches up to ack and waits up to wait for the next
// one. It returns the batch's cursor and envelopes; none when wait passed.
func (s *Session) poll(ctx context.Context, ack uint64, rejected []*pb.Rejection, wait time.Duration) (uint64, [][]byte, error) {
	s.mu.Lock()
	handed := s.handed
	s.mu.Unlock()
	if ack > handed {
		return 0, nil, fmt.Errorf("%w: the poll acknowledges batch %d, but this session handed out batches up to %d only", errAckAhead, ack, handed)
	}
	s.acknowledge(ack, rejected)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.err != nil {
			s.mu.Unlock()
			return 0, nil, s.closedErr()
		}
		for _, b := range s.out {
			if b.seq > ack {
				s.handed = max(s.handed, b.seq)
				s.mu.Unlock()
				return b.seq, b.envs, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return ack, nil, nil
		case <-ctx.Done():
			return ack, nil, ctx.Err()
		case <-s.done:
		}
	}
}

// acknowledge settles every batch up to ack; rejected belong to batch ack.
func (s *Session) acknowledge(ack uint64, rejected []*pb.Rejection) {
	s.mu.Lock()
	var settled []*outBatch
	for len(s.out) > 0 && s.out[0].seq <= ack {
		settled = append(settled, s.out[0])
		s.out = s.out[1:]
	}
	s.mu.Unlock()
	for _, b := range settled {
		a := &pb.Ack{Seq: b.seq}
		if b.seq == ack {
			a.Rejected = rejected
		}
		<-s.window
		b.cb(a, nil)
	}
}

// errAckAhead refuses a poll that acknowledges a batch never handed out:
// it would settle batches the peer never received.
var errAckAhead = errors.New("acknowledgement ahead of what was handed out")

// errSessionEnded reports a push to a session that ended meanwhile.
var errSessionEnded = errors.New("session ended")

// push hands a batch to the handler and waits until it is stored.
func (s *Session) push(ctx context.Context, envs [][]byte) ([]*pb.Rejection, error) {
	select {
	case <-s.ready:
	case <-s.done:
		return nil, s.closedErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	type result struct{ rejected []*pb.Rejection }
	ch := make(chan result, 1)
	var once sync.Once
	s.pushMu.Lock()
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.Batch(&pb.Batch{Envelopes: envs}, func(rj []*pb.Rejection) {
		once.Do(func() { ch <- result{rj} })
	})
	s.pushMu.Unlock()
	select {
	case r := <-ch:
		return r.rejected, nil
	case <-s.done:
		return nil, fmt.Errorf("%w: %v", errSessionEnded, s.Err())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Session) announce(subtree []string) error {
	select {
	case <-s.ready:
	case <-s.done:
		return s.closedErr()
	}
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.Announce(subtree)
	return nil
}
