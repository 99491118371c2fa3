package link

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// recorder is a Handler that acknowledges every batch at once.
type recorder struct {
	mu      sync.Mutex
	batches [][][]byte
	noAck   bool
}

func (r *recorder) Batch(b *pb.Batch, ack func([]*pb.Rejection)) {
	r.mu.Lock()
	r.batches = append(r.batches, b.Envelopes)
	r.mu.Unlock()
	if !r.noAck {
		ack(nil)
	}
}

func (r *recorder) Announce([]string) {}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

var fast = Options{Heartbeat: 50 * time.Millisecond, Timeout: 300 * time.Millisecond}

func TestBatchesAreAcknowledged(t *testing.T) {
	a, b := tcpPair(t)
	ca, cb := New(a.(Stream), fast), New(b.(Stream), fast)
	rec := &recorder{}
	ca.Run(&recorder{})
	cb.Run(rec)
	defer ca.Close("done")
	defer cb.Close("done")
	ack, err := ca.Send(context.Background(), [][]byte{[]byte("one"), []byte("two")})
	if err != nil || ack == nil {
		t.Fatalf("Send = %v, %v", ack, err)
	}
	if len(rec.batches) != 1 || string(rec.batches[0][1]) != "two" {
		t.Errorf("peer got %q", rec.batches)
	}
}

// An idle link stays up on heartbeats alone.
func TestIdleLinkStaysUp(t *testing.T) {
	a, b := tcpPair(t)
	ca, cb := New(a.(Stream), fast), New(b.(Stream), fast)
	ca.Run(&recorder{})
	cb.Run(&recorder{})
	defer ca.Close("done")
	defer cb.Close("done")
	select {
	case <-ca.Done():
		t.Fatalf("idle link ended: %v", ca.Err())
	case <-time.After(4 * fast.Timeout):
	}
}

// A peer that stops answering (a hung process, a cut cable) is noticed
// within the timeout, whether the link is idle or busy, and batches in
// flight fail so they can be sent again elsewhere.
func TestSilentPeerIsDetected(t *testing.T) {
	for _, busy := range []bool{false, true} {
		a, b := tcpPair(t)
		defer b.Close() // b never runs: it reads and answers nothing
		ca := New(a.(Stream), fast)
		ca.Run(&recorder{})
		start := time.Now()
		var inflight error
		var wg sync.WaitGroup
		if busy {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, inflight = ca.Send(context.Background(), [][]byte{make([]byte, 1<<10)})
			}()
		}
		select {
		case <-ca.Done():
		case <-time.After(10 * fast.Timeout):
			t.Fatalf("busy=%v: silent peer not detected", busy)
		}
		wg.Wait()
		if busy && !errors.Is(inflight, ErrClosed) {
			t.Errorf("in-flight batch got %v, want ErrClosed", inflight)
		}
		if d := time.Since(start); d > 5*fast.Timeout {
			t.Errorf("busy=%v: detection took %v", busy, d)
		}
		ca.Close("test over")
	}
}

func TestGoodbyeReachesPeerAfterQueuedFrames(t *testing.T) {
	a, b := tcpPair(t)
	ca, cb := New(a.(Stream), fast), New(b.(Stream), fast)
	rec := &recorder{}
	ca.Run(&recorder{})
	cb.Run(rec)
	var wg sync.WaitGroup
	wg.Add(1)
	ca.SendAsync(context.Background(), [][]byte{[]byte("last")}, func(*pb.Ack, error) { wg.Done() })
	wg.Wait()
	ca.Close("client closing")
	<-cb.Done()
	if err := cb.Err(); !errors.Is(err, ErrPeerGoodbye) {
		t.Errorf("peer ended with %v, want a goodbye", err)
	}
}

// SendAsync either returns an error or runs its callback, never both, so
// a sender can account for every batch exactly once.
func TestSendAsyncErrorOrCallbackNeverBoth(t *testing.T) {
	a, b := tcpPair(t)
	defer b.Close()
	ca := New(a.(Stream), fast)
	ca.Run(&recorder{})
	ca.Close("test")
	var calls atomic.Int32
	for i := 0; i < 100; i++ {
		err := ca.SendAsync(context.Background(), [][]byte{[]byte("x")}, func(*pb.Ack, error) { calls.Add(1) })
		if err == nil {
			t.Fatal("SendAsync on a closed link returned no error")
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("callbacks ran %d times after SendAsync returned errors", n)
	}
}

// Frames queued on a link that has failed are dropped, not retried: a
// sender must get control back (their batches fail through the callbacks).
func TestPushReturnsOnAFailedLink(t *testing.T) {
	a, b := tcpPair(t)
	defer b.Close()
	c := New(a, Options{})
	c.Run(&recorder{})
	c.Close("test over")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			c.push(&pb.Frame{Msg: &pb.Frame_Heartbeat{Heartbeat: &pb.Heartbeat{}}})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("push kept retrying frames on a closed link")
	}
	err := c.SendAsync(context.Background(), [][]byte{[]byte("x")}, func(*pb.Ack, error) {})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("SendAsync on a closed link: %v, want ErrClosed", err)
	}
}
