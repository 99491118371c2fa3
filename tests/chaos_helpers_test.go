package tests

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// faultProxy is a TCP proxy between a child relay and its parent that can
// cut the link both ways: reset (close every connection and refuse new
// ones) or hold (accept, but forward no byte in either direction until
// healed, as a network partition does).
type faultProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	reset bool
	gate  chan struct{} // closed while bytes flow
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startFaultProxy(t testing.TB, listen, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("fault proxy on %s: %v", listen, err)
	}
	open := make(chan struct{})
	close(open)
	p := &faultProxy{ln: ln, target: target, gate: open, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		reset := p.reset
		p.mu.Unlock()
		if reset {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, waiting at the gate before every write.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut cuts the link: hold keeps connections open without forwarding,
// otherwise every connection is closed and new ones are refused.
func (p *faultProxy) Cut(hold bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if hold {
		select {
		case <-p.gate: // open: shut it (a held link stays held)
			p.gate = make(chan struct{})
		default:
		}
		return
	}
	p.reset = true
	for c := range p.conns {
		c.Close()
	}
}

// Heal lets bytes flow again.
func (p *faultProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset = false
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.Heal()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// chaosLink is a child's link to its parent through fault proxies.
type chaosLink struct {
	child     string
	transport string
	proxies   []*faultProxy
}

func (l *chaosLink) Cut(hold bool) {
	for _, p := range l.proxies {
		p.Cut(hold)
	}
}

func (l *chaosLink) Heal() {
	for _, p := range l.proxies {
		p.Heal()
	}
}

// chaosRelayPorts are a relay's listening ports on 127.0.0.1.
type chaosRelayPorts struct{ http, tcp int }

// newChaosLink makes the way from a child to a parent at ports through
// fault proxies: one for the parent's TCP port, one for its HTTP port.
// Behind the HTTP proxy a reverse proxy rewrites the parent's /v1/hello
// so that the TCP address it names is the TCP fault proxy. The child's
// parent.url is the link's URL.
func newChaosLink(t testing.TB, child, transport string, parent chaosRelayPorts) (*chaosLink, string) {
	t.Helper()
	tcpProxy := startFaultProxy(t, "127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", parent.tcp))
	target, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", parent.http))
	realAddr := []byte(fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", parent.tcp)))
	proxyAddr := []byte(fmt.Sprintf("%q", tcpProxy.ln.Addr().String()))
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/v1/hello" {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, realAddr, proxyAddr)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rewriter := httptest.NewServer(rp)
	t.Cleanup(rewriter.Close)
	httpProxy := startFaultProxy(t, "127.0.0.1:0", rewriter.Listener.Addr().String())
	return &chaosLink{child: child, transport: transport, proxies: []*faultProxy{httpProxy, tcpProxy}},
		"http://" + httpProxy.ln.Addr().String()
}

// startChaosRelay starts relay id; parentURL and transport name its
// parent ("" for main).
func startChaosRelay(t testing.TB, dir, id string, ports chaosRelayPorts, parentURL, transport string) *relayProc {
	t.Helper()
	role, parentCfg := "main", ""
	if parentURL != "" {
		role = "node"
		parentCfg = fmt.Sprintf("parent:\n  url: %s\n  transport: %s\n", parentURL, transport)
	}
	cfg := fmt.Sprintf("id: %s\nrole: %s\ndata_dir: %s\nlisten:\n  http: 127.0.0.1:%d\n  tcp: 127.0.0.1:%d\n  prefer: tcp\n%s",
		id, role, filepath.Join(dir, id, "data"), ports.http, ports.tcp, parentCfg)
	if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &relayProc{
		t: t, ID: id, URL: fmt.Sprintf("http://127.0.0.1:%d", ports.http),
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
			t.Logf("--- log of %s ---\n%s", p.ID, tail(string(logs), 40))
		}
	})
	return p
}

// openFDs counts the open file descriptors of a process.
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}
