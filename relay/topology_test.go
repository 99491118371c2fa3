package relay_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/config"
)

// fastLink makes dead links show quickly in tests.
var fastLink = link.Options{Heartbeat: 100 * time.Millisecond, Timeout: time.Second}

// startRelay starts a relay on random loopback ports. dataDir may be reused
// to restart a relay with its queues.
func startRelay(t testing.TB, id, parentURL, dataDir string) *relay.Relay {
	t.Helper()
	return startRelayWith(t, id, parentURL, dataDir, nil)
}

// startRelayWith is startRelay with a chance to change the config.
func startRelayWith(t testing.TB, id, parentURL, dataDir string, change func(*config.Config)) *relay.Relay {
	t.Helper()
	return startRelayWithOpts(t, id, parentURL, dataDir, change, relay.Options{Link: fastLink, Logger: testLogger(t)})
}

func startRelayWithOpts(t testing.TB, id, parentURL, dataDir string, change func(*config.Config), opts relay.Options) *relay.Relay {
	t.Helper()
	cfg := &config.Config{
		ID: id, Role: config.RoleMain, DataDir: dataDir,
		Listen: config.Listen{HTTP: "127.0.0.1:0", TCP: "127.0.0.1:0", Prefer: "tcp"},
		Limits: config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: config.DefaultMaxBodyBytes, MaxTTL: config.DefaultMaxTTL},
	}
	if parentURL != "" {
		cfg.Role = config.RoleNode
		cfg.Parent = &config.Parent{URL: parentURL, Transport: "auto"}
	}
	if change != nil {
		change(cfg)
	}
	r, err := relay.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() { r.Close() })
	return r
}

type network struct {
	relays map[string]*relay.Relay
}

// startNetwork starts main, county-a and county-b under main, and
// township-a1 under county-a, and waits until main routes to all of them.
func startNetwork(t *testing.T) *network {
	t.Helper()
	dir := t.TempDir()
	n := &network{relays: map[string]*relay.Relay{}}
	n.relays["main"] = startRelay(t, "main", "", filepath.Join(dir, "main"))
	n.relays["county-a"] = startRelay(t, "county-a", n.relays["main"].URL(), filepath.Join(dir, "county-a"))
	n.relays["county-b"] = startRelay(t, "county-b", n.relays["main"].URL(), filepath.Join(dir, "county-b"))
	n.relays["township-a1"] = startRelay(t, "township-a1", n.relays["county-a"].URL(), filepath.Join(dir, "township-a1"))
	waitFor(t, "main routes to every node", func() bool {
		routed := 0
		for _, c := range n.relays["main"].Status().Children {
			if c.Connected {
				routed += len(c.Subtree)
			}
		}
		return routed == 3
	})
	return n
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dial(t testing.TB, r *relay.Relay, id string, receive bool) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Relay: r.URL(), ID: id, Receive: receive, Link: fastLink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// inbox collects what a receiving client gets.
type inbox struct {
	mu   sync.Mutex
	envs []*client.Envelope
}

func (in *inbox) handler(_ context.Context, e *client.Envelope) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.envs = append(in.envs, e)
	return nil
}

func (in *inbox) commands() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, e := range in.envs {
		out = append(out, e.Command)
	}
	return out
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.envs)
}

func TestEveryPairOfPlacementsDelivers(t *testing.T) {
	n := startNetwork(t)
	ctx := context.Background()
	places := []string{"main", "county-a", "county-b", "township-a1"}
	clients := map[string]*client.Client{}
	inboxes := map[string]*inbox{}
	for _, p := range places {
		in := &inbox{}
		c := dial(t, n.relays[p], "app", true)
		c.Handle("", in.handler)
		clients[p], inboxes[p] = c, in
	}
	for _, from := range places {
		for _, to := range places {
			cmd := fmt.Sprintf("ping.%s.%s", from, to)
			if _, err := clients[from].Send(ctx, to+"/app", cmd, nil, []byte("hi")); err != nil {
				t.Fatalf("%s -> %s: %v", from, to, err)
			}
		}
	}
	for _, to := range places {
		start := time.Now()
		waitFor(t, "4 envelopes at "+to, func() bool {
			if time.Since(start) > 5*time.Second {
				for _, p := range places {
					t.Logf("STATUS %s: %+v", p, n.relays[p].Status())
				}
				t.Logf("INBOX %v", inboxes[to].commands())
				start = time.Now()
			}
			return inboxes[to].len() >= 4
		})
		got := map[string]bool{}
		for _, c := range inboxes[to].commands() {
			got[c] = true
		}
		for _, from := range places {
			if want := fmt.Sprintf("ping.%s.%s", from, to); !got[want] {
				t.Errorf("%s did not receive %s (got %v)", to, want, inboxes[to].commands())
			}
		}
		if l := inboxes[to].len(); l != 4 {
			t.Errorf("%s received %d envelopes, want exactly 4", to, l)
		}
	}
}

// startRelayAt starts a main relay on a fixed HTTP address (for restarts).
func startRelayAt(t *testing.T, id, dataDir, httpAddr string) *relay.Relay {
	t.Helper()
	cfg := &config.Config{
		ID: id, Role: config.RoleMain, DataDir: dataDir,
		Listen: config.Listen{HTTP: httpAddr, TCP: "127.0.0.1:0", Prefer: "tcp"},
		Limits: config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: config.DefaultMaxBodyBytes, MaxTTL: config.DefaultMaxTTL},
	}
	var r *relay.Relay
	var err error
	for i := 0; i < 50; i++ {
		if r, err = relay.New(cfg, relay.Options{Link: fastLink, Logger: testLogger(t)}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() { r.Close() })
	return r
}

// testLogger logs through t.Log, so logs show only for failing tests.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
