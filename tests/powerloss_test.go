package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medrelay/medrelay/internal/powerfs"
	"github.com/medrelay/medrelay/internal/testenv"
)

// TestPowerCutLosesNoAcknowledgedEnvelope runs a relay whose data_dir is
// on powerfs, cuts the power while clients send, and starts the relay
// again on what the disk kept: every envelope the relay acknowledged must
// be delivered. Unlike kill -9, which leaves the page cache to finish the
// writes, the cut drops every write not yet made durable with fsync, so a
// missing sync (or an acknowledgement sent before it) loses envelopes here.
func TestPowerCutLosesNoAcknowledgedEnvelope(t *testing.T) {
	if err := powerfs.Available(); err != nil {
		testenv.Missing(t, "power-cut test: %v", err)
	}
	for _, tc := range []struct{ name, extra string }{
		{"intake journal", ""},
		{"bbolt commits only", "intake_journal: false\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { powerCut(t, tc.extra) })
	}
}

// powerCut runs the test on a relay with extra config lines.
func powerCut(t *testing.T, extra string) {
	work := t.TempDir()
	seed := filepath.Join(work, "seed")
	// data_dir exists before the relay starts, as an operator creates it.
	if err := os.MkdirAll(filepath.Join(seed, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(work, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	disk, err := powerfs.Mount(mnt, seed)
	if err != nil {
		t.Fatal(err)
	}
	mounted := true
	t.Cleanup(func() { // after the relay's cleanup has killed it
		if mounted {
			disk.Cut(filepath.Join(work, "cleanup"))
			if err := disk.Unmount(); err != nil {
				t.Error(err)
			}
		}
	})

	p := newRelayOn(t, work, "main", filepath.Join(mnt, "data"), extra)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sendCtx, stopSending := context.WithCancel(ctx)
	senders := make([]*sender, 4)
	var wg sync.WaitGroup
	for i := range senders {
		senders[i] = &sender{c: dialSDK(t, p.URL, fmt.Sprintf("clinic-%d", i), false)}
		wg.Add(1)
		go func() { defer wg.Done(); senders[i].sendUntil(sendCtx, "main/offline") }()
	}
	waitFor(t, "load under way", func() bool { return acceptedCount(senders) > 400 })

	survived := filepath.Join(work, "survived")
	if err := disk.Cut(survived); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if err := disk.Unmount(); err != nil {
		t.Fatal(err)
	}
	mounted = false
	stopSending()
	wg.Wait()
	var accepted []string
	for _, s := range senders {
		s.c.Close()
		accepted = append(accepted, s.accepted...)
	}
	t.Logf("%d envelopes acknowledged before the power cut", len(accepted))

	// Start again on what the disk kept.
	p.setDataDir(filepath.Join(survived, "data"))
	p.Start()
	if strings.Contains(p.Log(), "applied client batches the intake journal held") {
		t.Log("the restart applied batches only the intake journal held")
	}
	rx := collect(t, p.URL, "offline")
	// Done when everything arrived, or when the relay has delivered all it
	// kept: the SDK acknowledges a batch after its handler ran, and the
	// relay removes only what was acknowledged, so an empty queue means the
	// handler saw everything.
	waitFor(t, "the relay delivers what it kept", func() bool {
		if rx.has(accepted) == 0 {
			return true
		}
		st := p.Status()
		return st.ID != "" && st.Queues["client/offline"] == 0
	})
	if n := rx.has(accepted); n != 0 {
		t.Fatalf("%d of %d acknowledged envelopes were lost in the power cut", n, len(accepted))
	}
	if d := rx.duplicates(); d != 0 {
		t.Errorf("%d envelopes reached the handler twice", d)
	}
}

// sendUntil sends to until ctx ends, recording what the relay accepted.
func (s *sender) sendUntil(ctx context.Context, to string) {
	for i := 0; ctx.Err() == nil; i++ {
		id, err := s.c.Send(ctx, to, "load", map[string]string{"n": fmt.Sprint(i)}, make([]byte, 512))
		if err != nil {
			continue // the cut: Send fails until ctx ends
		}
		s.mu.Lock()
		s.accepted = append(s.accepted, id)
		s.mu.Unlock()
	}
}

func acceptedCount(ss []*sender) int {
	n := 0
	for _, s := range ss {
		s.mu.Lock()
		n += len(s.accepted)
		s.mu.Unlock()
	}
	return n
}

// movableRelay is a relay whose data_dir can change between runs.
type movableRelay struct {
	*relayProc
	cfgFormat string // the config, with %s for data_dir
}

func (p *movableRelay) setDataDir(dir string) {
	if err := os.WriteFile(p.cfgPath, []byte(fmt.Sprintf(p.cfgFormat, dir)), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// newRelayOn starts main with its config (plus extra) and log in work/id
// and its data_dir at dataDir.
func newRelayOn(t testing.TB, work, id, dataDir, extra string) *movableRelay {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(work, id), 0o755); err != nil {
		t.Fatal(err)
	}
	httpPort, tcpPort := freePort(t), freePort(t)
	p := &movableRelay{relayProc: &relayProc{
		t: t, ID: id, URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		cfgPath: filepath.Join(work, id, "relay.yaml"), logPath: filepath.Join(work, id, "relay.log"),
	}}
	p.cfgFormat = fmt.Sprintf("id: %s\nrole: main\ndata_dir: %%s\nlisten:\n  http: 127.0.0.1:%d\n  tcp: 127.0.0.1:%d\n  prefer: tcp\n%s", id, httpPort, tcpPort, extra)
	p.setDataDir(dataDir)
	p.Start()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", p.ID, tail(p.Log(), 60))
		}
	})
	return p
}
