package tests

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/link/tlsconf"
)

// secNet is a network of relay processes with TLS and authentication on
// every link: certificates from medrelay certs init, tokens from
// medrelay credentials add.
type secNet struct {
	t     testing.TB
	dir   string
	ca    string
	https *http.Client
}

func newSecNet(t testing.TB, relays ...string) *secNet {
	t.Helper()
	dir := t.TempDir()
	n := &secNet{t: t, dir: dir, ca: filepath.Join(dir, "certs", "ca.crt")}
	medrelay(t, "certs", "init", "--dir", filepath.Join(dir, "certs"), "--relays", strings.Join(relays, ","))
	tc, err := tlsconf.Client("https://127.0.0.1", tlsconf.ClientOptions{CAFile: n.ca})
	if err != nil {
		t.Fatal(err)
	}
	n.https = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
	return n
}

// medrelay runs the medrelay binary and returns its stdout.
func medrelay(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin("medrelay"), args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("medrelay %s: %v: %s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// credential adds id to relay's credentials file and returns its token;
// extra flags give a role (--role relay --subtree ...).
func (n *secNet) credential(relayID, id string, extra ...string) string {
	return medrelay(n.t, append([]string{"credentials", "add", "--file", filepath.Join(n.dir, relayID+"-creds.txt"), "--id", id}, extra...)...)
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// start writes id's config and starts it: listeners on http, tcp and
// quic preferring prefer, a node under parent over parentTransport.
func (n *secNet) start(id, prefer string, parent *relayProc, parentTransport string) *relayProc {
	n.t.Helper()
	if _, err := os.Stat(filepath.Join(n.dir, id+"-creds.txt")); err != nil {
		os.WriteFile(filepath.Join(n.dir, id+"-creds.txt"), nil, 0o600)
	}
	httpPort := freePort(n.t)
	cfg := fmt.Sprintf(`id: %s
role: %s
data_dir: %s
listen:
  http: 127.0.0.1:%d
  tcp: 127.0.0.1:%d
  quic: 127.0.0.1:%d
  prefer: %s
tls:
  cert_file: %s
  key_file: %s
auth:
  credentials_file: %s
`, id, map[bool]string{true: "node", false: "main"}[parent != nil], filepath.Join(n.dir, id, "data"),
		httpPort, freePort(n.t), freeUDPPort(n.t), prefer,
		filepath.Join(n.dir, "certs", id+".crt"), filepath.Join(n.dir, "certs", id+".key"),
		filepath.Join(n.dir, id+"-creds.txt"))
	if parent != nil {
		cfg += fmt.Sprintf("parent:\n  url: %s\n  transport: %s\n  ca_file: %s\n  token: %s\n",
			parent.URL, parentTransport, n.ca, n.credential(parent.ID, id, "--role", "relay"))
	}
	os.MkdirAll(filepath.Join(n.dir, id), 0o755)
	p := &relayProc{t: n.t, http: n.https, admin: n.credential(id, "test-admin", "--role", "admin"), ID: id, URL: fmt.Sprintf("https://127.0.0.1:%d", httpPort),
		cfgPath: filepath.Join(n.dir, id, "relay.yaml"), logPath: filepath.Join(n.dir, id, "relay.log")}
	if err := os.WriteFile(p.cfgPath, []byte(cfg), 0o644); err != nil {
		n.t.Fatal(err)
	}
	p.Start()
	n.t.Cleanup(func() {
		p.Kill()
		if n.t.Failed() {
			logs, _ := os.ReadFile(p.logPath)
			n.t.Logf("--- log of %s ---\n%s", p.ID, tail(string(logs), 40))
		}
	})
	return p
}

// dial attaches a client to p over transport with a new credential.
func (n *secNet) dial(p *relayProc, id, transport string, receive bool) *client.Client {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Relay: p.URL, ID: id, Transport: transport, CAFile: n.ca,
		Token: n.credential(p.ID, id), Receive: receive})
	if err != nil {
		n.t.Fatalf("dial %s at %s over %s: %v", id, p.ID, transport, err)
	}
	n.t.Cleanup(func() { c.Close() })
	return c
}

// inbox records what a client's handler receives.
type trInbox struct {
	mu  sync.Mutex
	got map[string]*client.Envelope
	dup int
}

func trCollect(c *client.Client) *trInbox {
	in := &trInbox{got: map[string]*client.Envelope{}}
	c.Handle("", func(_ context.Context, e *client.Envelope) error {
		in.mu.Lock()
		defer in.mu.Unlock()
		if _, ok := in.got[e.Id]; ok {
			in.dup++
		}
		in.got[e.Id] = e
		return nil
	})
	return in
}

func (in *trInbox) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.got)
}

func (in *trInbox) has(id string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	_, ok := in.got[id]
	return ok
}
