package node

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// An unreachable parent is tried again and again, with growing but capped
// waits, and the state says why it is not connected.
func TestUplinkRetriesForeverWithCappedBackoff(t *testing.T) {
	var hits atomic.Int32
	parent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	defer parent.Close()
	u := New(Options{
		RelayID: "county-a", ParentURL: parent.URL, Transport: "auto",
		Subtree:    func() []string { return []string{"county-a"} },
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}, func(Link, *pb.Welcome, string) { t.Error("attached to a parent that never answered") })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for hits.Load() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d attempts: the uplink stopped retrying", hits.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := u.State()
	if st.State != "connecting" || st.Attempts < 9 || st.LastError == "" {
		t.Errorf("state = %+v, want connecting with attempts and the last error", st)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
