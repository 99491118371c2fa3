package steploop

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func TestKickRunsAStepAndCancelStops(t *testing.T) {
	l := New()
	var steps atomic.Int32
	ran := make(chan struct{}, 16)
	step := func(context.Context) error { steps.Add(1); ran <- struct{}{}; return nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, step, slog.New(slog.DiscardHandler), "test"); close(done) }()
	<-ran // the first step runs at once
	l.Kick()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("no step after a kick")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := steps.Load(); got < 2 {
		t.Errorf("steps: got %d, want at least 2", got)
	}
}
