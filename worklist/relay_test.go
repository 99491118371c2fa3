package worklist

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeRelay stands in for the relay connection: it refuses the first
// envelope, then records what it is given.
type fakeRelay struct {
	mu      sync.Mutex
	refused bool
	got     []string
}

func (f *fakeRelay) SendEvent(_ context.Context, to string, args map[string]string, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.refused {
		f.refused = true
		return errors.New("relay not connected")
	}
	f.got = append(f.got, fmt.Sprintf("%s %s type %s #%s", to, args["workitem"], args["event_type"], args["number"]))
	return nil
}

func (f *fakeRelay) events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func TestRelaySubscriberGetsEventsInOrderAfterARefusal(t *testing.T) {
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		cmd, from string
		args      map[string]string
	}{
		{"ups.other", "county-a/app1", nil},
		{CmdSubscribe, "app1", nil},
		{CmdSubscribe, "county-a/app1", map[string]string{"filter": "WorklistLabel=x"}},
		{CmdSubscribe, "county-a/app1", map[string]string{"workitem": FilteredGlobal, "filter": "NoSuchKey=1"}},
		{CmdSubscribe, "county-a/app1", map[string]string{"workitem": "9.9.9"}},
	} {
		if err := s.HandleEnvelope(c.cmd, c.from, c.args); err == nil {
			t.Errorf("%s from %s %v: accepted, want an error", c.cmd, c.from, c.args)
		}
	}
	if err := s.HandleEnvelope(CmdSubscribe, "county-a/app1", map[string]string{}); err != nil {
		t.Fatal(err)
	}
	f := &fakeRelay{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.RunRelay(ctx, f); close(done) }()
	defer func() { cancel(); <-done }()
	ds, _ := DecodeDataset([]byte(`{"00741000":{"vr":"CS","Value":["SCHEDULED"]}}`))
	var want []string
	for i := 1; i <= 5; i++ {
		uid := fmt.Sprintf("1.2.%d", i)
		if _, err := s.Create(uid, ds); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("county-a/app1 %s type 1 #%d", uid, i))
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(f.events()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.events(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("envelopes:\ngot  %v\nwant %v", got, want)
	}
	if err := s.HandleEnvelope(CmdUnsubscribe, "county-a/app1", nil); err != nil {
		t.Fatal(err)
	}
}
