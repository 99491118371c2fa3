package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
)

var placements = []string{"main", "county-a", "county-b", "township-a1"}

// TestEveryPairOfPlacementsDelivers sends from a client on every relay to
// a client on every relay, with medrelayctl as both sender and listener.
func TestEveryPairOfPlacementsDelivers(t *testing.T) {
	tp := startTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	outs := make(map[string]string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, to := range placements {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := ctl(t, ctx, "listen", "--relay", tp.byID(to).URL, "--id", "app", "--count", "4", "--json", "--timeout", "90s")
			if err != nil {
				t.Errorf("listen at %s: %v", to, err)
			}
			mu.Lock()
			outs[to] = out
			mu.Unlock()
		}()
	}
	for _, from := range placements {
		for _, to := range placements {
			id, err := ctl(t, ctx, "send", "--relay", tp.byID(from).URL, "--id", "app", "--to", to+"/app",
				"--command", "ping", "--arg", "from="+from, "--body", "hello from "+from)
			if err != nil {
				t.Fatalf("send %s -> %s: %v", from, to, err)
			}
			if len(strings.TrimSpace(id)) != 36 {
				t.Fatalf("send printed %q, want an envelope id", id)
			}
		}
	}
	wg.Wait()
	for _, to := range placements {
		var froms []string
		for _, line := range strings.Split(strings.TrimSpace(outs[to]), "\n") {
			var e struct {
				Command string            `json:"command"`
				Args    map[string]string `json:"args"`
				To      struct{ Relay string }
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("listen at %s printed %q: %v", to, line, err)
			}
			if e.To.Relay != to {
				t.Errorf("listener at %s got an envelope for %s", to, e.To.Relay)
			}
			froms = append(froms, e.Args["from"])
		}
		slices.Sort(froms)
		if want := []string{"county-a", "county-b", "main", "township-a1"}; !slices.Equal(froms, want) {
			t.Errorf("listener at %s received from %v, want %v", to, froms, want)
		}
	}
}

func TestOfflineClientReceivesAfterItConnects(t *testing.T) {
	tp := startTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 5; i++ {
		if _, err := ctl(t, ctx, "send", "--relay", tp.townshipA1.URL, "--id", "clinic-7", "--to", "county-b/late",
			"--command", "study.ready", "--arg", fmt.Sprintf("n=%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "5 envelopes waiting at county-b", func() bool { return tp.countyB.Status().Queues["client/late"] == 5 })
	out, err := ctl(t, ctx, "listen", "--relay", tp.countyB.URL, "--id", "late", "--count", "5", "--timeout", "30s")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if !strings.Contains(out, fmt.Sprintf("n=\"%d\"", i)) {
			t.Errorf("listen output lacks envelope n=%d:\n%s", i, out)
		}
	}
	// A listener that timed out before its count is an error.
	if _, err := ctl(t, ctx, "listen", "--relay", tp.countyB.URL, "--id", "late", "--count", "1", "--timeout", "500ms"); err == nil {
		t.Error("listen --count 1 with nothing queued exited 0, want a timeout error")
	}
}

// sender is an in-process SDK client that records what the relay accepted.
type sender struct {
	c        *client.Client
	mu       sync.Mutex
	accepted []string
}

func (s *sender) send(t testing.TB, ctx context.Context, to string, n int) {
	for i := 0; i < n; i++ {
		id, err := s.c.Send(ctx, to, "load", map[string]string{"n": fmt.Sprint(i)}, make([]byte, 512))
		if err != nil {
			t.Errorf("send %d: %v", i, err)
			return
		}
		s.mu.Lock()
		s.accepted = append(s.accepted, id)
		s.mu.Unlock()
	}
}

// collector is an in-process SDK receiver. It also checks that envelopes
// from each sender arrive in the order sent (their "n" argument).
type collector struct {
	mu        sync.Mutex
	ids       map[string]int
	lastN     map[string]int
	disorders int
}

func collect(t testing.TB, url, id string) *collector {
	col := &collector{ids: map[string]int{}, lastN: map[string]int{}}
	c := dialSDK(t, url, id, true)
	c.Handle("", func(_ context.Context, e *client.Envelope) error {
		col.mu.Lock()
		defer col.mu.Unlock()
		col.ids[e.Id]++
		var n int
		fmt.Sscan(e.Args["n"], &n)
		from := e.From.Relay + "/" + e.From.Client
		if last, ok := col.lastN[from]; ok && n <= last {
			col.disorders++
		}
		col.lastN[from] = n
		return nil
	})
	return col
}

func (col *collector) has(ids []string) (missing int) {
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, id := range ids {
		if col.ids[id] == 0 {
			missing++
		}
	}
	return missing
}

func (col *collector) duplicates() int {
	col.mu.Lock()
	defer col.mu.Unlock()
	n := 0
	for _, c := range col.ids {
		if c > 1 {
			n++
		}
	}
	return n
}

func dialSDK(t testing.TB, url, id string, receive bool) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Relay: url, ID: id, Receive: receive})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestKillNodeHoldingQueuedEnvelopesLosesNone kills county-a with SIGKILL
// while envelopes stream through it, twice, and while it holds envelopes
// for an offline client and for its (stopped) parent. Every envelope the
// relay acknowledged, whether it was in bbolt or only in the intake
// journal when the relay died, is delivered after the restarts.
func TestKillNodeHoldingQueuedEnvelopesLosesNone(t *testing.T) {
	tp := startTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	local := &sender{c: dialSDK(t, tp.countyA.URL, "clinic-12", false)}
	remote := &sender{c: dialSDK(t, tp.townshipA1.URL, "clinic-7", false)}

	// Main is down: what county-a forwards up waits in its parent queue.
	tp.main.Kill()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); local.send(t, ctx, "county-a/offline", 1000) }()
	go func() { defer wg.Done(); remote.send(t, ctx, "county-b/radiology", 1000) }()
	waitFor(t, "traffic under way", func() bool {
		local.mu.Lock()
		defer local.mu.Unlock()
		return len(local.accepted) > 50
	})
	tp.countyA.Restart()
	time.Sleep(200 * time.Millisecond)
	tp.countyA.Restart()
	wg.Wait()
	if t.Failed() {
		return
	}
	st := tp.countyA.Status()
	if st.Queues["parent"] == 0 {
		t.Errorf("county-a holds nothing for its parent (queues %v); the test did not test a queued parent link", st.Queues)
	}
	tp.countyA.Restart()
	tp.main.Start()
	// Killed mid-stream, county-a had acknowledged batches that were only
	// in its intake journal: they must be applied when it starts.
	if !strings.Contains(tp.countyA.Log(), "applied client batches the intake journal held") {
		t.Errorf("no restart of county-a found batches in its intake journal; the test did not test them")
	}

	offline := collect(t, tp.countyA.URL, "offline")
	radiology := collect(t, tp.countyB.URL, "radiology")
	waitFor(t, "every acknowledged envelope delivered", func() bool {
		return offline.has(local.accepted) == 0 && radiology.has(remote.accepted) == 0
	})
	if d := offline.duplicates() + radiology.duplicates(); d != 0 {
		t.Errorf("%d envelopes reached a handler twice", d)
	}
	if d := offline.disorders + radiology.disorders; d != 0 {
		t.Errorf("%d envelopes arrived before one their sender sent earlier", d)
	}
}

// TestMainRestartNeedsNoRestartOfNodesOrClients kills main under load and
// starts it again; nodes and clients carry on by themselves.
func TestMainRestartNeedsNoRestartOfNodesOrClients(t *testing.T) {
	tp := startTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := []*relayProc{tp.countyA, tp.countyB, tp.townshipA1}
	pids := map[string]int{}
	for _, p := range nodes {
		pids[p.ID] = p.PID()
	}
	tx := &sender{c: dialSDK(t, tp.townshipA1.URL, "clinic-7", false)}
	rx := collect(t, tp.countyB.URL, "radiology")
	back := &sender{c: dialSDK(t, tp.countyB.URL, "radiology-out", false)}
	rxBack := collect(t, tp.townshipA1.URL, "clinic-7-in")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); tx.send(t, ctx, "county-b/radiology", 400) }()
	go func() { defer wg.Done(); back.send(t, ctx, "township-a1/clinic-7-in", 400) }()
	waitFor(t, "traffic under way", func() bool {
		tx.mu.Lock()
		defer tx.mu.Unlock()
		return len(tx.accepted) > 50
	})
	tp.main.Restart()
	time.Sleep(300 * time.Millisecond)
	tp.main.Kill()
	time.Sleep(time.Second)
	tp.main.Start()
	wg.Wait()
	waitFor(t, "everything delivered after main's restarts", func() bool {
		return rx.has(tx.accepted) == 0 && rxBack.has(back.accepted) == 0
	})
	if d := rx.disorders + rxBack.disorders; d != 0 {
		t.Errorf("%d envelopes arrived before one their sender sent earlier", d)
	}
	// The nodes still run as the processes started at the beginning:
	// none crashed or was restarted to carry on.
	for _, p := range nodes {
		p.mu.Lock()
		exited := p.exited
		p.mu.Unlock()
		select {
		case <-exited:
			t.Errorf("%s exited", p.ID)
		default:
		}
		if p.PID() != pids[p.ID] {
			t.Errorf("%s was restarted", p.ID)
		}
	}
	// county-b may have had nothing to send since main returned: its link
	// comes back with its next attempt, by itself.
	waitFor(t, "county-b's parent link connected again", func() bool {
		st := tp.countyB.Status()
		return st.Parent != nil && st.Parent.State == "connected"
	})
}
