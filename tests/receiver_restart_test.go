package tests

import (
	"context"
	"sync"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
)

// TestReceiverRestartAfterRelayKillHandlesOnce: a receiver's handler runs,
// its relay is killed (kill -9) before it stores the receiver's ack, and
// the application restarts before it reconnects. The relay delivers the
// envelope again, to a new client whose memory is empty; with
// Options.StateDir the handler still runs once.
func TestReceiverRestartAfterRelayKillHandlesOnce(t *testing.T) {
	rl := newRelay(t, t.TempDir(), "main", nil, "")
	stateDir := t.TempDir()
	var (
		mu      sync.Mutex
		calls   = map[string]int{}
		entered = make(chan struct{})
		release = make(chan struct{})
	)
	handle := func(_ context.Context, e *client.Envelope) error {
		mu.Lock()
		calls[e.Id]++
		first := len(calls) == 1 && calls[e.Id] == 1
		mu.Unlock()
		if first {
			close(entered)
			<-release
		}
		return nil
	}
	handled := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[id]
	}
	dialReceiver := func() *client.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, client.Options{Relay: rl.URL, ID: "rcv", Receive: true, StateDir: stateDir})
		if err != nil {
			t.Fatal(err)
		}
		c.Handle("", handle)
		return c
	}
	rcv := dialReceiver()
	snd := dialSDK(t, rl.URL, "snd", false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, err := snd.Send(ctx, "main/rcv", "consult.request", nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("the handler was not entered")
	}
	rl.Kill() // before the ack can reach the relay
	close(release)
	rcv.Close()

	rl.Start()
	waitFor(t, "the relay to hold the unacknowledged envelope again", func() bool {
		return rl.Status().Queues["client/rcv"] == 1
	})
	rcv = dialReceiver()
	defer rcv.Close()
	snd = dialSDK(t, rl.URL, "snd", false)
	marker, err := snd.Send(ctx, "main/rcv", "consult.request", nil, []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the envelope sent after the restart to be handled", func() bool { return handled(marker) == 1 })
	waitFor(t, "the relay's queue for rcv to empty", func() bool { return rl.Status().Queues["client/rcv"] == 0 })
	if n := handled(first); n != 1 {
		t.Fatalf("the handler ran %d times for the envelope redelivered after the relay's kill and the receiver's restart, want once", n)
	}
}
