package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/link"
	rhello "github.com/medrelay/medrelay/link/hello"
	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/config"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// TestMainKilledUnderLoadOverEveryTransport kills main (kill -9) while
// clinics send, keeps it down, restarts it: nothing is lost, no node or
// client restarts. Each case is clinic→county, county→main, hq→main.
func TestMainKilledUnderLoadOverEveryTransport(t *testing.T) {
	cases := []struct{ down, up, hq string }{
		{"http", "quic", "tcp"},
		{"quic", "http", "http"},
		{"tcp", "tcp", "quic"},
	}
	n := newSecNet(t, "main", "county-a")
	main := n.start("main", "quic", nil, "")
	// One county per case, all at once: one kill of main serves them all.
	counties := make([]*relayProc, len(cases))
	hqs := make([]*trInbox, len(cases))
	for i, tc := range cases {
		id := fmt.Sprintf("county-%d", i)
		medrelay(t, "certs", "init", "--dir", filepath.Join(n.dir, "certs"), "--relays", id)
		counties[i] = n.start(id, "quic", main, tc.up)
		hqs[i] = trCollect(n.dial(main, fmt.Sprintf("hq-%d", i), tc.hq, true))
	}
	waitFor(t, "main routes to every county", func() bool {
		k := 0
		for _, c := range main.Status().Children {
			if c.Connected {
				k++
			}
		}
		return k == len(cases)
	})
	pids := make([]int, len(cases))
	for i := range counties {
		pids[i] = counties[i].PID()
	}
	const per = 150
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var sent atomic.Int64
	errs := make(chan error, len(cases))
	for i, tc := range cases {
		c := n.dial(counties[i], "clinic", tc.down, false)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < per; k++ {
				if _, err := c.Send(ctx, fmt.Sprintf("main/hq-%d", i), "load", nil, []byte("x")); err != nil {
					errs <- fmt.Errorf("case %d: send %d: %w", i, k, err)
					return
				}
				sent.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	waitFor(t, "load under way", func() bool { return sent.Load() > int64(len(cases)*per/4) })
	main.Kill()
	time.Sleep(2 * time.Second) // nodes keep accepting meanwhile
	main.Start()
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	for i, tc := range cases {
		waitFor(t, fmt.Sprintf("case %+v: all %d delivered", tc, per), func() bool { return hqs[i].count() == per })
		if counties[i].PID() != pids[i] {
			t.Fatalf("county %d restarted", i)
		}
	}
}

// TestAuthenticationFailuresAreRefusedAndLogged: a wrong token (over
// every transport), a spoofed from, and a child announcing a relay that is
// not its own are refused with a reason and logged, never left hanging.
func TestAuthenticationFailuresAreRefusedAndLogged(t *testing.T) {
	n := newSecNet(t, "main", "county-a", "county-b")
	main := n.start("main", "quic", nil, "")
	n.start("county-a", "quic", main, "tcp")
	waitFor(t, "county-a connected", func() bool { return len(main.Status().Children) == 1 && main.Status().Children[0].Connected })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, tr := range trTransports {
		n.credential("main", "clinic-x")
		_, err := client.Dial(ctx, client.Options{Relay: main.URL, ID: "clinic-x", Transport: tr, CAFile: n.ca, Token: "wrong"})
		if err == nil || !strings.Contains(err.Error(), "authentication failed") {
			t.Fatalf("%s: wrong token: got %v, want a refusal naming the failure", tr, err)
		}
		_, err = client.Dial(ctx, client.Options{Relay: main.URL, ID: "clinic-x", Transport: tr, CAFile: n.ca})
		if err == nil || !strings.Contains(err.Error(), "authentication required") {
			t.Fatalf("%s: no token: got %v", tr, err)
		}
	}
	if !strings.Contains(main.Log(), `reason="client clinic-x: authentication failed`) {
		t.Fatal("main did not log the refused token")
	}

	// HTTP: 401 with a reason.
	req, _ := http.NewRequest("POST", main.URL+"/v1/link/sessions", strings.NewReader(`{"clientId":"clinic-x"}`))
	req.Header.Set("Authorization", "Bearer wrong")
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(body, []byte("authentication failed")) {
		t.Fatalf("http open with a wrong token: %d %s", resp.StatusCode, body)
	}

	// Spoofed from: clinic-y pushes an envelope claiming to be clinic-z.
	tok := n.credential("main", "clinic-y")
	req, _ = http.NewRequest("POST", main.URL+"/v1/link/sessions", strings.NewReader(`{"clientId":"clinic-y"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = n.https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	sid := between(string(body), `"session":"`, `"`)
	push := `{"envelopes":[{"id":"0190f1d2-3c4b-7a5e-8f00-000000000001","from":{"relay":"main","client":"clinic-z"},"to":{"relay":"main","client":"hq"},"command":"x","kind":"KIND_COMMAND"}]}`
	req, _ = http.NewRequest("POST", main.URL+"/v1/link/sessions/"+sid+"/push", strings.NewReader(push))
	req.Header.Set("Content-Type", "application/json")
	resp, err = n.https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("does not match this link's client")) {
		t.Fatalf("spoofed from: got %d %s, want a rejection", resp.StatusCode, body)
	}
	if !strings.Contains(main.Log(), "envelope refused") {
		t.Fatal("main did not log the spoofed envelope")
	}

	// A child announcing a relay that is not its own: county-b (valid
	// token) claims county-a, which is connected under main, and main itself.
	tc, _ := tlsconf.Client(main.URL, tlsconf.ClientOptions{CAFile: n.ca})
	h := rhello.Hello{}
	hh, err := rhello.Fetch(ctx, tlsconf.HTTPClient(tc), main.URL)
	if err != nil {
		t.Fatal(err)
	}
	h = *hh
	tcpT, _ := h.Choose("tcp")
	// A clinic's token never opens a relay link (the probe of issue 12).
	tokX := n.credential("main", "clinic-x")
	_, _, err = rhello.Connect(ctx, main.URL, tcpT, &pb.Hello{RelayId: "clinic-x", Subtree: []string{"clinic-x", "county-b"}}, rhello.DialOptions{TLS: tc, Token: tokX, Link: link.Options{}})
	if err == nil || !strings.Contains(err.Error(), "role client") {
		t.Fatalf("a clinic's token as a relay: got %v, want a refusal naming the role", err)
	}
	if !strings.Contains(main.Log(), `reason="relay clinic-x: permission denied: its credential has role client`) {
		t.Fatal("main did not log the clinic's refused relay link")
	}
	// county-b's credential allows more than the tree does: the tree's
	// own checks still refuse relays above it or under another child.
	tokB := n.credential("main", "county-b", "--role", "relay", "--subtree", "county-a,main")
	for _, subtree := range [][]string{{"county-b", "county-a"}, {"county-b", "main"}} {
		_, _, err := rhello.Connect(ctx, main.URL, tcpT, &pb.Hello{RelayId: "county-b", Subtree: subtree}, rhello.DialOptions{TLS: tc, Token: tokB, Link: link.Options{}})
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("announce %v: got %v, want a refusal", subtree, err)
		}
	}
	if !strings.Contains(main.Log(), "child county-b announced county-a, which is under child county-a") {
		t.Fatal("main did not log the refused subtree")
	}
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	if j := strings.Index(s, b); j >= 0 {
		return s[:j]
	}
	return s
}

// dropConn is a packet socket that drops everything while blocked.
type dropConn struct {
	net.PacketConn
	blocked atomic.Bool
}

func (d *dropConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, a, err := d.PacketConn.ReadFrom(p)
		if err != nil || !d.blocked.Load() {
			return n, a, err
		}
	}
}

func (d *dropConn) WriteTo(p []byte, a net.Addr) (int, error) {
	if d.blocked.Load() {
		return len(p), nil
	}
	return d.PacketConn.WriteTo(p, a)
}

// TestFallbackAndReturnToPreferred: main prefers QUIC; its QUIC socket
// starts dropping everything, so the node falls back (tcp) and delivers;
// once QUIC passes again the node returns to it.
func TestFallbackAndReturnToPreferred(t *testing.T) {
	dir := t.TempDir()
	fast := link.Options{Heartbeat: 100 * time.Millisecond, Timeout: 700 * time.Millisecond}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dc := &dropConn{PacketConn: udp}
	limits := config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: config.DefaultMaxBodyBytes, MaxTTL: config.DefaultMaxTTL}
	log := slog.New(slog.DiscardHandler)
	mainR, err := relay.New(&config.Config{ID: "main", Role: config.RoleMain, DataDir: filepath.Join(dir, "main"), Limits: limits,
		Listen: config.Listen{HTTP: "127.0.0.1:0", TCP: "127.0.0.1:0", QUIC: udp.LocalAddr().String(), Prefer: "quic"}},
		relay.Options{Link: fast, Logger: log, QUICConn: dc})
	if err != nil {
		t.Fatal(err)
	}
	mainR.Start()
	defer mainR.Close()
	node, err := relay.New(&config.Config{ID: "county-a", Role: config.RoleNode, DataDir: filepath.Join(dir, "county-a"), Limits: limits,
		Listen: config.Listen{HTTP: "127.0.0.1:0", Prefer: "http"},
		Parent: &config.Parent{URL: mainR.URL(), Transport: "auto", RetryPreferred: 500 * time.Millisecond}},
		relay.Options{Link: fast, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	node.Start()
	defer node.Close()
	parentVia := func(tr string) func() bool {
		return func() bool { p := node.Status().Parent; return p != nil && p.State == "connected" && p.Transport == tr }
	}
	waitFor(t, "county-a on quic", parentVia("quic"))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rx, err := client.Dial(ctx, client.Options{Relay: mainR.URL(), ID: "hq", Receive: true, Transport: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	in := trCollect(rx)
	tx, err := client.Dial(ctx, client.Options{Relay: node.URL(), ID: "clinic", Transport: "http"})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	dc.blocked.Store(true)
	waitFor(t, "county-a falls back to tcp", parentVia("tcp"))
	if _, err := tx.Send(ctx, "main/hq", "during", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered over the fallback", func() bool { return in.count() == 1 })

	dc.blocked.Store(false)
	waitFor(t, "county-a returns to quic", parentVia("quic"))
	if _, err := tx.Send(ctx, "main/hq", "after", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered over quic again", func() bool { return in.count() == 2 })
}
