package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medrelay/medrelay/filestore/miniotest"
	"github.com/medrelay/medrelay/internal/testenv"
)

// The AE titles of the gateway tests' DICOM nodes.
const (
	aetGwA     = "GW_A"        // gateway A's own title
	aetRouteB  = "TO_COUNTY_B" // called title at gateway A that routes to county-b/gw-b
	aetGwB     = "GW_B"        // gateway B's own title
	aetViewer  = "VIEWER_B"    // the radiologist's viewer (storescp) behind gateway B
	aetClinic  = "CT_A1"       // the calling title storescu uses at gateway A
	gwWait     = 2 * time.Minute
	gwAddrB    = "county-b/gw-b"
	gwAddrA    = "county-a/gw-a"
	gwStatesOK = "acknowledged"
)

// gwNeed skips the test when a tool is missing, or fails it under CI
// (internal/testenv).
func gwNeed(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		testenv.Require(t, tool)
	}
}

var (
	dicomgwOnce sync.Once
	dicomgwErr  error
)

// dicomgwBin builds cmd/dicomgw into binDir once (only the gateway tests
// pay for it).
func dicomgwBin(t testing.TB) string {
	t.Helper()
	dicomgwOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", binDir, "../cmd/dicomgw").CombinedOutput()
		if err != nil {
			dicomgwErr = fmt.Errorf("build dicomgw: %v\n%s", err, out)
		}
	})
	if dicomgwErr != nil {
		t.Fatal(dicomgwErr)
	}
	return bin("dicomgw")
}

// dcmtkEnv turns Nagle off in dcmtk tools (DICOM.md: 45 ms per small image
// otherwise).
func dcmtkEnv() []string { return append(os.Environ(), "TCP_NODELAY=1") }

// gwRow is one line of `dicomgw studies --json`: one study transfer.
type gwRow struct {
	StudyUID       string `json:"study_uid"`
	Side           string `json:"side"`
	Peer           string `json:"peer"`
	Destination    string `json:"destination"`
	State          string `json:"state"`
	Instances      int    `json:"instances"`
	Stored         int    `json:"stored"`
	AlreadyPresent int    `json:"already_present"`
	Failed         int    `json:"failed"`
	Error          string `json:"error"`
}

func (r gwRow) String() string {
	s := fmt.Sprintf("%s %s peer=%s dest=%s state=%s instances=%d stored=%d already_present=%d failed=%d",
		r.Side, r.StudyUID, r.Peer, r.Destination, r.State, r.Instances, r.Stored, r.AlreadyPresent, r.Failed)
	if r.Error != "" {
		s += " error=" + r.Error
	}
	return s
}

// gwProc is a `dicomgw serve` process whose ports and data directory stay
// the same across restarts.
type gwProc struct {
	t        testing.TB
	Name     string
	URL      string // the gateway's HTTP API
	DICOM    string // host:port of its DICOM listener
	token    string // what its HTTP API needs (its relay token), when auth is on
	cfgPath  string
	logPath  string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error // how the last run ended; read after exited closes
	restarts int
}

// gwConfig is what differs between the gateways of a test.
type gwConfig struct {
	name, id, relayURL, aet string
	// relayExtra are more keys of the relay section (indented 2), token
	// the relay.token among them (the HTTP API then needs it).
	relayExtra, token string
	// body is the YAML after the common keys: peers, routes, deliver...
	body string
}

// newGateway writes a config and starts the gateway.
func newGateway(t testing.TB, dir string, c gwConfig) *gwProc {
	t.Helper()
	dicomgwBin(t)
	home := filepath.Join(dir, c.name)
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	dport, hport := freePort(t), freePort(t)
	g := &gwProc{
		t: t, Name: c.name, URL: fmt.Sprintf("http://127.0.0.1:%d", hport), DICOM: fmt.Sprintf("127.0.0.1:%d", dport),
		cfgPath: filepath.Join(home, "gateway.yaml"), logPath: filepath.Join(home, "gateway.log"), token: c.token,
	}
	cfg := fmt.Sprintf("id: %s\nrelay:\n  url: %s\n%sdata_dir: %s\ndicom:\n  listen: %s\n  aet: %s\nhttp: 127.0.0.1:%d\n%s",
		c.id, c.relayURL, c.relayExtra, filepath.Join(home, "data"), g.DICOM, c.aet, hport, c.body)
	if err := os.WriteFile(g.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin("dicomgw"), "check-config", "--config", g.cfgPath).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "config ok") {
		t.Fatalf("dicomgw check-config %s: %v: %s\n%s", c.name, err, out, cfg)
	}
	g.Start()
	t.Cleanup(func() {
		g.Kill()
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", g.Name, tail(g.Log(), 40))
		}
	})
	return g
}

// Start runs the gateway and waits until /readyz answers 200.
func (g *gwProc) Start() {
	g.t.Helper()
	logf, err := os.OpenFile(g.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		g.t.Fatal(err)
	}
	cmd := exec.Command(bin("dicomgw"), "serve", "--config", g.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		logf.Close()
		g.mu.Lock()
		g.waitErr = err
		g.mu.Unlock()
		close(exited)
	}()
	g.mu.Lock()
	g.cmd, g.exited = cmd, exited
	g.mu.Unlock()
	waitFor(g.t, g.Name+" answers /readyz", func() bool {
		select {
		case <-exited:
			g.t.Fatalf("%s exited at start:\n%s", g.Name, tail(g.Log(), 20))
		default:
		}
		resp, err := http.Get(g.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Kill sends SIGKILL (kill -9) and waits for the process to end.
func (g *gwProc) Kill() {
	g.mu.Lock()
	cmd, exited := g.cmd, g.exited
	g.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Terminate sends SIGTERM and returns how the process ended (nil: exit
// status 0), or an error when it is still running after 30 s.
func (g *gwProc) Terminate() error {
	g.mu.Lock()
	cmd, exited := g.cmd, g.exited
	g.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s still runs 30 s after SIGTERM", g.Name)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waitErr
}

// Restart starts the gateway again after a Kill.
func (g *gwProc) Restart() {
	g.Kill()
	g.restarts++
	g.Start()
}

// PeakRSS returns the process's peak resident set size (VmHWM) in bytes.
func (g *gwProc) PeakRSS() int64 {
	g.mu.Lock()
	pid := g.cmd.Process.Pid
	g.mu.Unlock()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb int64
			fmt.Sscan(f[1], &kb)
			return kb << 10
		}
	}
	return -1
}

func (g *gwProc) Log() string {
	b, _ := os.ReadFile(g.logPath)
	return string(b)
}

// Rows reads GET /v1/studies[?study=UID] (the JSON API the CLI uses).
func (g *gwProc) Rows(study string) ([]gwRow, error) {
	u := g.URL + "/v1/studies"
	if study != "" {
		u += "?study=" + study
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	var body struct {
		Studies []gwRow `json:"studies"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return body.Studies, nil
}

// CLIRows runs `dicomgw studies --gateway URL --study UID --json` and
// parses its one object per line.
func (g *gwProc) CLIRows(t testing.TB, study string) []gwRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("dicomgw"), "studies", "--gateway", g.URL, "--study", study, "--json")
	cmd.Env = append(os.Environ(), "MEDRELAY_TOKEN="+g.token) // as an operator would pass it
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("dicomgw studies --json at %s: %v: %s", g.Name, err, errb.String())
	}
	var rows []gwRow
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r gwRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("dicomgw studies --json at %s printed %q: %v", g.Name, line, err)
		}
		rows = append(rows, r)
	}
	checkStates(t, rows)
	return rows
}

// gwStates are the states the contract allows on each side.
var gwStates = map[string][]string{
	"outgoing": {"receiving", "complete", "uploading", "announced", "acknowledged", "failed"},
	"incoming": {"downloading", "storing", "acknowledged", "failed"},
}

// checkStates fails t for a row whose side or state the contract does not
// name.
func checkStates(t testing.TB, rows []gwRow) {
	t.Helper()
	for _, r := range rows {
		if !slices.Contains(gwStates[r.Side], r.State) {
			t.Errorf("row %v: side %q with state %q is not in the contract (%v)", r, r.Side, r.State, gwStates)
		}
	}
}

// rowsOf filters rows by side ("outgoing" or "incoming").
func rowsOf(rows []gwRow, side string) []gwRow {
	var out []gwRow
	for _, r := range rows {
		if r.Side == side {
			out = append(out, r)
		}
	}
	return out
}

// waitRow polls the gateway until one of the study's rows on side meets
// cond, and returns it; it fails naming what it last saw.
func waitRow(t testing.TB, g *gwProc, study, side, what string, timeout time.Duration, cond func(gwRow) bool) gwRow {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []gwRow
	var lastErr error
	for {
		rows, err := g.Rows(study)
		if err == nil {
			checkStates(t, rows)
			last = rowsOf(rows, side)
			for _, r := range last {
				if cond(r) {
					return r
				}
			}
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out after %v waiting for the %s row of %s to be %s; last rows %v (err %v)",
				g.Name, timeout, side, study, what, last, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// acknowledged waits until both gateways say the transfer of study is
// acknowledged and returns the outgoing (A) and incoming (B) rows.
func acknowledged(t testing.TB, a, b *gwProc, study string, cond func(gwRow) bool) (out, in gwRow) {
	t.Helper()
	ok := func(r gwRow) bool { return r.State == gwStatesOK && (cond == nil || cond(r)) }
	in = waitRow(t, b, study, "incoming", "acknowledged", gwWait, ok)
	out = waitRow(t, a, study, "outgoing", "acknowledged", gwWait, ok)
	return out, in
}

// --- the network: three relays, two gateways, a viewer ---

// gwStorage selects where the instances travel.
type gwStorage string

const (
	storageMinIODirect gwStorage = "minio-direct" // every relay on one MinIO bucket, presigned URLs
	storageLocalProxy  gwStorage = "local-proxy"  // main's local store, bytes through the relays
)

type gwNetOptions struct {
	storage           gwStorage
	completeOnRelease bool
	stableAfter       string // default 2s
	viewerArgs        []string
	// peersA and peersB are more peers of gateway A and B (YAML list
	// items, indented 2), routesA more routes of gateway A.
	peersA, peersB, routesA string
}

type gwNet struct {
	dir                    string
	minio                  *miniotest.Server
	bucket                 string
	main, countyA, countyB *relayProc
	a, b                   *gwProc
	viewer                 *viewer
}

// startGwNet starts main, county-a and county-b (processes), gateway A
// under county-a routing TO_COUNTY_B to county-b/gw-b, gateway B under
// county-b delivering to the viewer.
func startGwNet(t testing.TB, o gwNetOptions) *gwNet {
	t.Helper()
	gwNeed(t, "storescu", "storescp")
	dicomgwBin(t)
	n := &gwNet{dir: t.TempDir()}
	store := ""
	if o.storage == storageMinIODirect {
		n.minio = filesMinio(t)
		n.bucket = n.minio.NewBucket(t)
		store = filesS3(n.minio, n.bucket, "direct")
	}
	n.main = newRelay(t, n.dir, "main", nil, store)
	n.countyA = newRelay(t, n.dir, "county-a", n.main, store)
	n.countyB = newRelay(t, n.dir, "county-b", n.main, store)
	waitFor(t, "main routes to both counties", func() bool { return routedRelays(n.main) == 2 })
	n.viewer = newViewer(t, o.viewerArgs...)
	stable := o.stableAfter
	if stable == "" {
		stable = "2s"
	}
	n.b = newGateway(t, n.dir, gwConfig{name: "gw-b", id: "gw-b", relayURL: n.countyB.URL, aet: aetGwB, body: fmt.Sprintf(
		"peers:\n  - {aet: %s, host: 127.0.0.1, port: %d}\n%sdeliver:\n  default_destination: %s\nstable_after: %s\n",
		aetViewer, n.viewer.Port, o.peersB, aetViewer, stable)})
	n.a = newGateway(t, n.dir, gwConfig{name: "gw-a", id: "gw-a", relayURL: n.countyA.URL, aet: aetGwA, body: fmt.Sprintf(
		"peers:\n  - {aet: %s, host: 127.0.0.1, port: 104}\n%sroutes:\n  - match: {called_aet: %s}\n    to: %s\n    destination: %s\n    complete_on_release: %t\n%sstable_after: %s\n",
		aetClinic, o.peersA, aetRouteB, gwAddrB, aetViewer, o.completeOnRelease, o.routesA, stable)})
	return n
}

// checkReceipt checks the acknowledged rows on both sides against the
// expected counts.
func checkReceipt(t testing.TB, out, in gwRow, instances, stored, already int) {
	t.Helper()
	for _, c := range []struct {
		row  gwRow
		peer string
	}{{out, gwAddrB}, {in, gwAddrA}} {
		r := c.row
		if r.Instances != instances || r.Stored != stored || r.AlreadyPresent != already || r.Failed != 0 || r.Error != "" {
			t.Errorf("%s row: got %v, want instances=%d stored=%d already_present=%d failed=0 and no error",
				r.Side, r, instances, stored, already)
		}
		if r.Peer != c.peer {
			t.Errorf("%s row: peer %q, want %q", r.Side, r.Peer, c.peer)
		}
	}
	if in.Destination != aetViewer {
		t.Errorf("incoming row: destination %q, want %q", in.Destination, aetViewer)
	}
}
