package tests

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMalformedAndOversizedFramesCloseOnlyThatLink writes garbage and an
// oversized frame to a relay's TCP listener, on links it leaves open for
// writing: the relay drops each of those links by itself, keeps its other
// links (to its parent and to a connected client) up, keeps running and
// keeps what it had stored.
func TestMalformedAndOversizedFramesCloseOnlyThatLink(t *testing.T) {
	tp := startTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := ctl(t, ctx, "send", "--relay", tp.countyA.URL, "--id", "x", "--to", "county-a/keep", "--command", "c"); err != nil {
		t.Fatal(err)
	}
	dialSDK(t, tp.countyA.URL, "watcher", true)
	waitFor(t, "the watcher connected", func() bool {
		for _, c := range tp.countyA.Status().Clients {
			if c.ID == "watcher" && c.Receivers == 1 {
				return true
			}
		}
		return false
	})
	parentSince := tp.countyA.Status().Parent.Since
	tcpAddr := ""
	for _, tr := range hello(t, tp.countyA.URL).Transports {
		if tr.Name == "tcp" {
			tcpAddr = tr.Addr
		}
	}
	oversized := make([]byte, 4)
	binary.BigEndian.PutUint32(oversized, 1<<31)
	inputs := map[string][]byte{
		"garbage":          []byte("GET / HTTP/1.0\r\n\r\n"),
		"oversized length": oversized,
		"zero length":      {0, 0, 0, 0},
		"truncated frame":  {0, 0, 0, 50, 1, 2, 3},
	}
	for name, in := range inputs {
		c, err := net.Dial("tcp", tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(in)
		if name == "truncated frame" {
			// Only the end of the stream shows the frame is cut short.
			c.(*net.TCPConn).CloseWrite()
		}
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("%s: the relay kept the link open", name)
				}
				break
			}
		}
		c.Close()
	}
	// The other links were not touched: the parent link is the one from
	// before, and neither side saw a link of county-a's end.
	if st := tp.countyA.Status(); st.Parent == nil || st.Parent.State != "connected" || !st.Parent.Since.Equal(parentSince) {
		t.Errorf("county-a's parent link after bad frames: %+v, want the link connected since %v", st.Parent, parentSince)
	}
	if l := tp.main.Log(); strings.Contains(l, `msg="child disconnected" relay=main child=county-a`) {
		t.Error("main saw county-a's link end during the bad frames")
	}
	if l := tp.countyA.Log(); strings.Contains(l, `msg="client disconnected" relay=county-a client=watcher`) {
		t.Error("county-a dropped the watcher's link during the bad frames")
	}
	// The envelope went up to main and back down (no shortcut): wait
	// for it to reach the inbox, however slow the machine.
	waitFor(t, "the stored envelope in county-a's inbox for keep", func() bool { return tp.countyA.Status().Queues["client/keep"] == 1 })
	if _, err := ctl(t, ctx, "listen", "--relay", tp.countyA.URL, "--id", "keep", "--count", "1", "--timeout", "20s"); err != nil {
		t.Errorf("the stored envelope was not delivered after bad frames: %v", err)
	}
	logs, _ := os.ReadFile(tp.countyA.logPath)
	if !strings.Contains(string(logs), "frame too large") {
		t.Errorf("county-a's log does not say why it dropped the oversized frame")
	}
}

func TestBadConfigAndFlagsGetMessagesNamingThem(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(cfg, []byte("id: county-a\nrole: node\ndata_dir: d\nlisten:\n  http: 127.0.0.1:7100\n  tpc: 127.0.0.1:7101\nparent:\n  url: http://127.0.0.1:7000\n"), 0o644)
	tests := []struct {
		name     string
		bin      string
		args     []string
		wantCode int
		want     string
	}{
		{"unknown config key", "medrelay", []string{"check-config", "--config", cfg}, 1, `unknown key "tpc" in listen`},
		{"missing config", "medrelay", []string{"check-config", "--config", filepath.Join(dir, "none.yaml")}, 1, "no such file"},
		{"serve without config", "medrelay", []string{"serve"}, 2, "--config FILE is required"},
		{"unknown command", "medrelay", []string{"relay"}, 2, `unknown command "relay"`},
		{"invalid address", "medrelayctl", []string{"send", "--relay", "http://127.0.0.1:1", "--id", "a", "--to", "county-a", "--command", "c"}, 2, "use RELAY/CLIENT"},
		{"unknown flag", "medrelayctl", []string{"send", "--relya", "x"}, 2, "flag provided but not defined: -relya"},
		{"missing flag", "medrelayctl", []string{"listen", "--relay", "http://127.0.0.1:1"}, 2, "--id is required"},
		{"bad id", "medrelayctl", []string{"listen", "--relay", "http://127.0.0.1:1", "--id", "Clinic 1"}, 2, `--id "Clinic 1" is invalid`},
		{"unreachable relay", "medrelayctl", []string{"send", "--relay", "http://127.0.0.1:1", "--id", "a", "--to", "b/c", "--command", "c", "--timeout", "2s"}, 1, "reach relay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(bin(tt.bin), tt.args...).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output %q does not contain %q", out, tt.want)
			}
		})
	}
}
