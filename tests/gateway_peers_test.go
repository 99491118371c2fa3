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

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dicomgen"
)

const aetPACS = "PACS_A1" // the clinic's PACS (dcmqrscp) at gateway A

// TestGatewaySendStudyFromPACS pulls studies from dcmqrscp, the clinic's
// PACS, with `dicomgw send-study --wait`: gateway A finds the study,
// C-MOVEs it to itself and sends it to the viewer behind gateway B.
func TestGatewaySendStudyFromPACS(t *testing.T) {
	gwNeed(t, "dcmqrscp", "storescu", "storescp")
	qrPort := freePort(t)
	n := startGwNet(t, gwNetOptions{storage: storageLocalProxy,
		peersA: fmt.Sprintf("  - {aet: %s, host: 127.0.0.1, port: %d}\n", aetPACS, qrPort)})
	_, gwPort, _ := strings.Cut(n.a.DICOM, ":")
	startDcmqrscp(t, qrPort, aetPACS, fmt.Sprintf("gwa = (%s, 127.0.0.1, %s)\n", aetGwA, gwPort))
	pacs := fmt.Sprintf("127.0.0.1:%d", qrPort)

	t.Run("the whole study arrives", func(t *testing.T) {
		study, dir := genStudyDir(t, dicomgen.Options{Instances: 30, Series: 3, InstanceBytes: 8 << 10, Mixed: true, MultiFrame: 1})
		want := expectedSums(t, study)
		mustStorescu(t, pacs, aetPACS, dir)
		stdout, err := sendStudy(n.a, study.StudyUID)
		if err != nil {
			t.Fatalf("dicomgw send-study --wait: %v", err)
		}
		if !strings.Contains(stdout, study.StudyUID) {
			t.Errorf("send-study printed %q, want the study UID %s", stdout, study.StudyUID)
		}
		out, in := acknowledged(t, n.a, n.b, study.StudyUID, nil)
		checkReceipt(t, out, in, len(want), len(want), 0)
		// dcmqrscp proposes explicit little endian first for every file and
		// converts implicit ones itself, so those cannot match byte for byte.
		if d := checkArrivedConverted(t, n.viewer, want); d != 0 {
			t.Errorf("the viewer got %d duplicate copies", d)
		}
	})

	t.Run("a C-MOVE that misses an instance is not acknowledged", func(t *testing.T) {
		// dcmqrscp proposes only uncompressed syntaxes when it moves, so it
		// cannot send the JPEG instance: C-FIND counts 5, the C-MOVE ends
		// with B000 (4 completed, 1 failed).
		study, dir := genStudyDir(t, dicomgen.Options{Instances: 5, InstanceBytes: 4 << 10, JPEG: 1})
		mustStorescu(t, pacs, aetPACS, dir)
		stdout, err := sendStudy(n.a, study.StudyUID)
		if err == nil {
			t.Errorf("send-study --wait exited 0 (printed %q) for a study gateway A got only partly", stdout)
		}
		r := waitRow(t, n.a, study.StudyUID, "outgoing", "acknowledged or failed", gwWait, func(r gwRow) bool {
			return r.State == gwStatesOK || r.State == "failed"
		})
		if r.State != "failed" || r.Error == "" {
			t.Errorf("gateway A's row for a study C-FIND counts 5 instances of and the C-MOVE brought 4: %v, want failed with a reason", r)
		}
	})
}

// sendStudy runs `dicomgw send-study --wait` from the PACS to the viewer.
func sendStudy(a *gwProc, study string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), gwWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("dicomgw"), "send-study", "--gateway", a.URL, "--study", study,
		"--from", aetPACS, "--to", gwAddrB, "--destination", aetViewer, "--wait")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
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
			t.Logf("--- %s ---\n%s", name, tail(out.String(), 400))
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
	picky := newViewer(t, "-xf", ctOnlyProfile(t), "CT")
	var peers, routes strings.Builder
	for _, d := range []struct {
		aet  string
		port int
	}{{"DOWN_B", downPort}, {"FULL_B", full.Port}, {"WRONG_B", wrongPort}, {"PICKY_B", picky.Port}} {
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
		study, want := refused(t, "TO_FULL_B", func(r gwRow) bool { return r.Error != "" || r.Failed > 0 })
		r := rowsOf(mustRows(t, n.b, study.StudyUID), "incoming")[0]
		if !strings.Contains(strings.ToLower(r.Error), "a700") {
			t.Errorf("gateway B's error %q does not give the DICOM status A700 (Refused: Out of Resources)", r.Error)
		}
		if r.State == "failed" {
			t.Fatalf("gateway B gave up at once (state failed, %v) instead of retrying with backoff", r)
		}
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

	t.Run("SOP classes the destination does not accept fail after retries", func(t *testing.T) {
		// The destination accepts CT image storage only: of CT, MR,
		// secondary capture and US, one is stored and three fail.
		study, dir := genStudyDir(t, dicomgen.Options{Instances: 4, InstanceBytes: 4 << 10, Mixed: true})
		mustStorescu(t, n.a.DICOM, "TO_PICKY_B", dir)
		r := waitRow(t, n.b, study.StudyUID, "incoming", "failing visibly", gwWait, func(r gwRow) bool { return r.Error != "" || r.Failed > 0 })
		t.Logf("gateway B reports: %v", r)
		if r.Stored > 1 {
			t.Errorf("gateway B counts %d stored; the destination accepts 1 of the 4 instances", r.Stored)
		}
		for _, side := range []struct {
			g    *gwProc
			side string
		}{{n.b, "incoming"}, {n.a, "outgoing"}} {
			r := waitRow(t, side.g, study.StudyUID, side.side, "failed", gwWait, func(r gwRow) bool { return r.State == "failed" || r.State == gwStatesOK })
			if r.State != "failed" || r.Stored != 1 || r.Failed != 3 || r.Error == "" {
				t.Errorf("%s row once retries are over: %v, want failed with stored=1 failed=3 and a reason", side.side, r)
			}
		}
		got := picky.Received(t)
		for _, f := range study.Files {
			if n := len(got[f.SOPInstanceUID]); (f.SOPClassUID == dicom.CTImageStorage) != (n == 1) || n > 1 {
				t.Errorf("instance %s (class %s): %d copies at the destination", f.SOPInstanceUID, f.SOPClassUID, n)
			}
		}
	})
}

// ctOnlyProfile writes a storescp association profile "CT" that accepts
// CT image storage in little endian syntaxes and nothing else.
func ctOnlyProfile(t testing.TB) string {
	t.Helper()
	cfg := "[[TransferSyntaxes]]\n[LE]\nTransferSyntax1 = " + dicom.ExplicitVRLittleEndian + "\nTransferSyntax2 = " + dicom.ImplicitVRLittleEndian +
		"\n\n[[PresentationContexts]]\n[CTOnly]\nPresentationContext1 = " + dicom.CTImageStorage + "\\LE\n\n[[Profiles]]\n[CT]\nPresentationContexts = CTOnly\n"
	path := filepath.Join(t.TempDir(), "ct-only.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
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
