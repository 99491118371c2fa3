// Package tests holds medrelay's end-to-end tests: they build the real
// binaries and run relays as separate processes on loopback, then kill,
// restart and talk to them the way operators and applications do.
package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medrelay/medrelay/adminapi"
)

// binDir holds the binaries built once for the whole test binary.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medrelay-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-o", dir, "../cmd/medrelay", "../cmd/medrelayctl")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func bin(name string) string { return filepath.Join(binDir, name) }

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// relayProc is a relay running as its own process. Its ports and data
// directory stay the same across restarts.
type relayProc struct {
	t        testing.TB
	http     *http.Client // nil: http.DefaultClient
	admin    string       // a token with role admin, when auth is on
	ID       string
	URL      string
	cfgPath  string
	logPath  string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	restarts int
}

// newRelay writes a config for relay id (a node under parent, or main when
// parent is nil) and starts it.
func newRelay(t testing.TB, dir, id string, parent *relayProc, extra string) *relayProc {
	t.Helper()
	httpPort, tcpPort := freePort(t), freePort(t)
	role, parentCfg := "main", ""
	if parent != nil {
		role = "node"
		parentCfg = fmt.Sprintf("parent:\n  url: %s\n  transport: auto\n", parent.URL)
	}
	cfg := fmt.Sprintf("id: %s\nrole: %s\ndata_dir: %s\nlisten:\n  http: 127.0.0.1:%d\n  tcp: 127.0.0.1:%d\n  prefer: tcp\n%s%s",
		id, role, filepath.Join(dir, id, "data"), httpPort, tcpPort, parentCfg, extra)
	if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &relayProc{
		t: t, ID: id, URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		cfgPath: filepath.Join(dir, id, "relay.yaml"), logPath: filepath.Join(dir, id, "relay.log"),
	}
	if err := os.WriteFile(p.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			logs, _ := os.ReadFile(p.logPath)
			t.Logf("--- log of %s ---\n%s", p.ID, tail(string(logs), 60))
		}
	})
	return p
}

// Start runs the relay process and waits until it answers /healthz.
func (p *relayProc) Start() {
	p.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(bin("medrelay"), "serve", "--config", p.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	waitFor(p.t, p.ID+" answers /healthz", func() bool {
		select {
		case <-exited:
			logs, _ := os.ReadFile(p.logPath)
			p.t.Fatalf("%s exited at start:\n%s", p.ID, tail(string(logs), 20))
		default:
		}
		resp, err := p.client().Get(p.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Kill sends SIGKILL (kill -9) and waits for the process to end.
func (p *relayProc) Kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Restart kills the relay with SIGKILL and starts it again.
func (p *relayProc) Restart() {
	p.Kill()
	p.restarts++
	p.Start()
}

func (p *relayProc) client() *http.Client {
	if p.http != nil {
		return p.http
	}
	return http.DefaultClient
}

// PID returns the process id (to check that nobody restarted it).
func (p *relayProc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Log returns the process's log so far.
func (p *relayProc) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// Status reads the relay's /v1/status.
func (p *relayProc) Status() adminapi.Status {
	var st adminapi.Status
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/v1/status", nil)
	if p.admin != "" {
		req.Header.Set("Authorization", "Bearer "+p.admin)
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&st)
	return st
}

// routesTo reports whether main's connected children cover n relays.
func routedRelays(main *relayProc) int {
	n := 0
	for _, c := range main.Status().Children {
		if c.Connected {
			n += len(c.Subtree)
		}
	}
	return n
}

// topology is main, county-a and county-b under main, township-a1 under county-a.
type topology struct {
	main, countyA, countyB, townshipA1 *relayProc
}

func (tp *topology) byID(id string) *relayProc {
	return map[string]*relayProc{"main": tp.main, "county-a": tp.countyA, "county-b": tp.countyB, "township-a1": tp.townshipA1}[id]
}

func startTopology(t testing.TB) *topology {
	t.Helper()
	dir := t.TempDir()
	tp := &topology{}
	tp.main = newRelay(t, dir, "main", nil, "")
	tp.countyA = newRelay(t, dir, "county-a", tp.main, "")
	tp.countyB = newRelay(t, dir, "county-b", tp.main, "")
	tp.townshipA1 = newRelay(t, dir, "township-a1", tp.countyA, "")
	waitFor(t, "main routes to all three nodes", func() bool { return routedRelays(tp.main) == 3 })
	return tp
}

// ctl runs medrelayctl and returns its stdout; it fails the test on a
// non-zero exit unless wantErr.
func ctl(t testing.TB, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin("medrelayctl"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("medrelayctl %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// hello reads a relay's /v1/hello.
func hello(t testing.TB, url string) relayHello {
	t.Helper()
	var h relayHello
	resp, err := http.Get(url + "/v1/hello")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

type relayHello struct {
	ID         string `json:"id"`
	Transports []struct {
		Name string `json:"name"`
		Addr string `json:"addr"`
	} `json:"transports"`
	Prefer string `json:"prefer"`
}
