package hello

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// An unreachable relay is tried again and again, with growing but capped
// waits; each failure is reported with why, and Run ends with its context.
func TestRedialerRetriesForeverWithCappedBackoff(t *testing.T) {
	var hits atomic.Int32
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	defer relay.Close()
	r := NewRedialer(RedialOptions{URL: relay.URL, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	var downs atomic.Int32
	var maxWait atomic.Int64
	var lastErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, nil, Events{
			Serve: func(context.Context, *Dialed) { t.Error("served a link from a relay that never answered") },
			Down: func(err error, wait time.Duration) {
				downs.Add(1)
				lastErr.Store(err.Error())
				maxWait.Store(max(maxWait.Load(), int64(wait)))
			},
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for hits.Load() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d attempts: the redialer stopped retrying", hits.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if downs.Load() < 9 || lastErr.Load() == nil {
		t.Errorf("got %d failures reported (last %v), want one per attempt with its error", downs.Load(), lastErr.Load())
	}
	if got := time.Duration(maxWait.Load()); got > 30*time.Millisecond {
		t.Errorf("longest wait %v, want at most 1.5 × MaxBackoff (30ms)", got)
	}
}
