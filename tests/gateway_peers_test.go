package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/medrelay/medrelay/dicom/dicomgen"
)

const aetPACS = "PACS_A1" // the clinic's PACS (dcmqrscp) at gateway A

// TestGatewaySendStudyFromPACS pulls a study from dcmqrscp, the clinic's
// PACS, with `dicomgw send-study --wait`: gateway A finds it, C-MOVEs it
// to itself and sends it to the viewer behind gateway B.
func TestGatewaySendStudyFromPACS(t *testing.T) {
	gwNeed(t, "dcmqrscp", "storescu", "storescp")
	qrPort := freePort(t)
	n := startGwNet(t, gwNetOptions{storage: storageLocalProxy,
		peersA: fmt.Sprintf("  - {aet: %s, host: 127.0.0.1, port: %d}\n", aetPACS, qrPort)})
	_, gwPort, _ := strings.Cut(n.a.DICOM, ":")
	startDcmqrscp(t, qrPort, aetPACS, fmt.Sprintf("gwa = (%s, 127.0.0.1, %s)\n", aetGwA, gwPort))
	study, dir := genStudyDir(t, dicomgen.Options{Instances: 30, Series: 3, InstanceBytes: 8 << 10, Mixed: true, MultiFrame: 1, JPEG: 1})
	want := expectedSums(t, study)
	mustStorescu(t, fmt.Sprintf("127.0.0.1:%d", qrPort), aetPACS, dir)

	ctx, cancel := context.WithTimeout(context.Background(), gwWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("dicomgw"), "send-study", "--gateway", n.a.URL, "--study", study.StudyUID,
		"--from", aetPACS, "--to", gwAddrB, "--destination", aetViewer, "--wait")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dicomgw send-study --wait: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), study.StudyUID) {
		t.Errorf("send-study printed %q, want the study UID %s", stdout.String(), study.StudyUID)
	}
	out, in := acknowledged(t, n.a, n.b, study.StudyUID, nil)
	checkReceipt(t, out, in, len(want), len(want), 0)
	if d := checkArrived(t, n.viewer, want); d != 0 {
		t.Errorf("the viewer got %d duplicate copies", d)
	}
}

// startDcmqrscp runs dcmqrscp with one storage AE title and the given
// HostTable lines (the move destinations it knows).
func startDcmqrscp(t testing.TB, port int, aet, hosts string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.MkdirAll(db, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 16\n\nHostTable BEGIN\n%sHostTable END\n\n"+
		"VendorTable BEGIN\nVendorTable END\n\nAETable BEGIN\n%s %s RW (2000, 1024mb) ANY\nAETable END\n", port, hosts, aet, db)
	conf := filepath.Join(dir, "dcmqrscp.cfg")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startTool(t, port, "dcmqrscp", "+xy", "-c", conf, fmt.Sprint(port))
}

// startTool runs a DICOM server process until the test ends and waits
// until it listens on port.
func startTool(t testing.TB, port int, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = dcmtkEnv()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("--- %s ---\n%s", name, tail(out.String(), 20))
		}
	})
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port), done)
}

// TestGatewayRefusingDestination routes studies to destinations behind
// gateway B that refuse them: one that is down, one that answers every
// C-STORE with A700 (out of resources: storescp cannot write), and one
// that rejects the association (the called AE title is not its own).
// Each failure is visible with its reason, nothing is counted as stored,
// and the first two deliver once the destination is back (retried).
func TestGatewayRefusingDestination(t *testing.T) {
	gwNeed(t, "storescu", "storescp", "dcmqrscp")
	downPort, wrongPort := freePort(t), freePort(t)
	full := newViewer(t)
	var peers, routes strings.Builder
	for _, d := range []struct {
		aet  string
		port int
	}{{"DOWN_B", downPort}, {"FULL_B", full.Port}, {"WRONG_B", wrongPort}} {
		fmt.Fprintf(&peers, "  - {aet: %s, host: 127.0.0.1, port: %d}\n", d.aet, d.port)
		fmt.Fprintf(&routes, "  - match: {called_aet: TO_%s}\n    to: %s\n    destination: %s\n", d.aet, gwAddrB, d.aet)
	}
	n := startGwNet(t, gwNetOptions{storage: storageLocalProxy, peersB: peers.String(), routesA: routes.String()})
	startDcmqrscp(t, wrongPort, "RIGHT_B", "")

	// refused sends a small study to route and waits until gateway B
	// shows the failure; nothing may be counted as stored meanwhile.
	refused := func(t *testing.T, route string, cond func(gwRow) bool) (dicomgen.Result, map[string]wantInst) {
		study, dir := genStudyDir(t, dicomgen.Options{Instances: 5, InstanceBytes: 4 << 10, Mixed: true})
		mustStorescu(t, n.a.DICOM, route, dir)
		r := waitRow(t, n.b, study.StudyUID, "incoming", "failing visibly", gwWait, cond)
		t.Logf("gateway B reports: %v", r)
		if r.Stored != 0 || r.AlreadyPresent != 0 {
			t.Errorf("gateway B counts instances as stored at a destination that refused them: %v", r)
		}
		for _, o := range rowsOf(mustRows(t, n.a, study.StudyUID), "outgoing") {
			if o.Stored != 0 || o.State == gwStatesOK {
				t.Errorf("gateway A counts instances as stored at a destination that refused them: %v", o)
			}
		}
		return study, expectedSums(t, study)
	}

	t.Run("destination down, then up", func(t *testing.T) {
		study, want := refused(t, "TO_DOWN_B", func(r gwRow) bool { return r.Error != "" })
		v := &viewer{t: t, Port: downPort, Dir: t.TempDir()}
		v.Start()
		t.Cleanup(v.Stop)
		out, in := acknowledged(t, n.a, n.b, study.StudyUID, nil)
		checkReceiptTo(t, out, in, len(want), "DOWN_B")
		checkArrived(t, v, want)
	})

	t.Run("C-STORE refused with A700, then accepted", func(t *testing.T) {
		// storescp cannot create its files while its directory is a file:
		// it answers "Refused: Out of Resources" (A700).
		if err := os.Remove(full.Dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full.Dir, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		study, want := refused(t, "TO_FULL_B", func(r gwRow) bool {
			return strings.Contains(strings.ToLower(r.Error), "a700")
		})
		os.Remove(full.Dir)
		if err := os.Mkdir(full.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out, in := acknowledged(t, n.a, n.b, study.StudyUID, nil)
		checkReceiptTo(t, out, in, len(want), "FULL_B")
		checkArrived(t, full, want)
	})

	t.Run("association rejected: wrong called AE title", func(t *testing.T) {
		refused(t, "TO_WRONG_B", func(r gwRow) bool { return r.Error != "" })
	})
}

// checkReceiptTo checks an acknowledged transfer to another destination
// than the viewer: every instance stored, none failed.
func checkReceiptTo(t testing.TB, out, in gwRow, total int, dest string) {
	t.Helper()
	for _, r := range []gwRow{out, in} {
		if r.Instances != total || r.Stored != total || r.Failed != 0 {
			t.Errorf("%s row after the destination came back: %v, want instances=stored=%d, failed=0", r.Side, r, total)
		}
	}
	if in.Destination != dest {
		t.Errorf("incoming row: destination %q, want %q", in.Destination, dest)
	}
}

func mustRows(t testing.TB, g *gwProc, study string) []gwRow {
	t.Helper()
	rows, err := g.Rows(study)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
