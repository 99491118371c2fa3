package relay_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/config"
)

// logBuffer keeps a relay's log lines for a test to search.
type logBuffer struct {
	t  testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (l *logBuffer) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

// startLimited starts main with limits and a log the test can read.
func startLimited(t *testing.T, lim config.Limits) (*relay.Relay, *logBuffer) {
	t.Helper()
	logs := &logBuffer{t: t}
	cfg := &config.Config{ID: "main", Role: config.RoleMain, DataDir: filepath.Join(t.TempDir(), "main"),
		Listen: config.Listen{HTTP: "127.0.0.1:0", TCP: "127.0.0.1:0", Prefer: "tcp"}, Limits: lim}
	r, err := relay.New(cfg, relay.Options{Link: fastLink, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() { r.Close() })
	return r, logs
}

// closedByPeer reports whether the relay closed c (a read ends in EOF or
// a reset), waiting up to 15 s.
func closedByPeer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Peers that announce a 4 MiB first frame make the relay allocate nothing
// like it: the hello limit (limits.max_hello_bytes) closes them at once.
func TestUnauthenticatedFramesDoNotGrowMemory(t *testing.T) {
	r, logs := startLimited(t, config.Limits{})
	const conns = 40
	before := heapAlloc()
	var open []net.Conn
	for range conns {
		c, err := net.Dial("tcp", r.TCPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], 4<<20-1)
		c.Write(append(hdr[:], 0x0a))
		open = append(open, c)
	}
	for i, c := range open {
		if !closedByPeer(c) {
			t.Fatalf("connection %d announcing a 4 MiB hello is still open", i)
		}
	}
	if grew := int64(heapAlloc()) - int64(before); grew > 8<<20 {
		t.Fatalf("%d connections with 4 MiB hellos grew the heap by %d bytes, want under 8 MiB", conns, grew)
	}
	if !logs.has("frame too large") {
		t.Fatal("the relay did not log why it refused the hellos")
	}
}

// The relay holds at most limits.max_connections_per_address connections
// from one address, on all listeners together, refuses more with a
// logged reason, and takes new ones once some close.
func TestConnectionLimitsPerAddress(t *testing.T) {
	r, logs := startLimited(t, config.Limits{MaxConnectionsPerAddress: 5, MaxConnections: 100})
	var held []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", r.TCPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	waitFor(t, "5 connections open", func() bool { return r.Status().Connections == 5 })
	extra, err := net.Dial("tcp", r.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	fmt.Fprintf(extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if !closedByPeer(extra) {
		t.Fatal("a 6th connection from the same address stayed open")
	}
	waitFor(t, "the refusal logged with its reason", func() bool {
		return logs.has("connection refused") && logs.has("limits.max_connections_per_address")
	})
	held[0].Close()
	waitFor(t, "a place free again", func() bool { return r.Status().Connections == 4 })
	resp, err := http.Get(r.URL() + "/healthz")
	if err != nil {
		t.Fatalf("after one closed, a new connection: %v", err)
	}
	resp.Body.Close()
}

// An unfinished request body and an idle keep-alive connection are
// closed after limits.http_body_timeout and limits.http_idle_timeout,
// while a long poll may wait longer than both.
func TestHTTPTimeouts(t *testing.T) {
	r, _ := startLimited(t, config.Limits{HTTPBodyTimeout: 300 * time.Millisecond, HTTPIdleTimeout: 300 * time.Millisecond})
	slow, err := net.Dial("tcp", r.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /v1/link/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"client")
	if !closedByPeer(slow) {
		t.Fatal("a request whose body never finishes kept its connection")
	}
	idle, err := net.Dial("tcp", r.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	if !closedByPeer(idle) {
		t.Fatal("an idle keep-alive connection stayed open")
	}
	// A long poll outlives both timeouts: it waits the 1 s it asked for.
	open := strings.NewReader(`{"clientId":"clinic-2","receive":true}`)
	resp, err = http.Post(r.URL()+"/v1/link/sessions", "application/json", open)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sid := strings.Split(strings.Split(string(body), `"session":"`)[1], `"`)[0]
	start := time.Now()
	resp, err = http.Post(r.URL()+"/v1/link/sessions/"+sid+"/poll", "application/json", strings.NewReader(`{"waitMs":1000}`))
	if err != nil {
		t.Fatalf("a long poll longer than the body and idle timeouts: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("long poll answered %d after %v, want 200 after its wait", resp.StatusCode, time.Since(start))
	}
}
