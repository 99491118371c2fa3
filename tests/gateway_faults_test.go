package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/medrelay/medrelay/dicom/dicomgen"
)

// faultStudy is big enough that each step lasts long enough to be seen
// (20 MB) and small enough to keep the suite fast.
func faultStudy() dicomgen.Options {
	return dicomgen.Options{Instances: 40, Series: 2, InstanceBytes: 512 << 10, Mixed: true, MultiFrame: 1, Frames: 4, JPEG: 1}
}

// TestGatewayFaults kills (kill -9) each process of the path at the
// step where it holds the study, restarts it, and checks that every
// instance arrives, the receipt is right, and the viewer got duplicates
// only of instances proven in flight at the kill.
//
// The viewer answers each C-STORE after a synchronous 20 ms command
// (storescp -xcr ... -xs), so delivering a study takes about a second
// and a kill during it is possible to arrange.
func TestGatewayFaults(t *testing.T) {
	gwNeed(t, "storescu", "storescp")
	n := startGwNet(t, gwNetOptions{storage: storageMinIODirect,
		viewerArgs: []string{"--exec-on-reception", "sleep 0.02", "--exec-sync"}})

	t.Run("gateway A killed during upload", func(t *testing.T) {
		// Gateway A uploads while it receives (the steps overlap), so the
		// upload is caught by its objects in MinIO: some there, storescu
		// still sending. The clinic then sends the study again, as a
		// modality does after a failed association.
		f := &fault{t: t, n: n}
		var dir string
		f.study, dir = genStudyDir(t, faultStudy())
		f.want, f.viewerBase = expectedSums(t, f.study), n.viewer.Count()
		sent := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), gwWait)
			defer cancel()
			_, err := storescu(ctx, n.a.DICOM, aetRouteB, dir)
			sent <- err
		}()
		mc := n.minio.Client(t)
		f.killWhen(n.a, "gateway A has uploaded some instances", func() bool {
			objects := 0
			for o := range mc.ListObjects(context.Background(), n.bucket, minio.ListObjectsOptions{Recursive: true}) {
				if o.Err == nil && strings.Contains(o.Key, f.study.StudyUID) {
					objects++
				}
			}
			state := f.rowState(n.a, "outgoing")
			return objects >= 3 && (state == "receiving" || state == "complete" || state == "uploading")
		})
		err := <-sent
		t.Logf("storescu during the kill: %v", err)
		f.restart(n.a)
		mustStorescu(t, n.a.DICOM, aetRouteB, dir)
		f.check(t)
	})

	t.Run("gateway B killed during download", func(t *testing.T) {
		f := startFault(t, n)
		f.killWhen(n.b, "gateway B's row is downloading", func() bool {
			return f.rowState(n.b, "incoming") == "downloading"
		})
		f.restart(n.b)
		f.check(t)
	})

	t.Run("gateway B killed during C-STORE to the viewer", func(t *testing.T) {
		f := startFault(t, n)
		f.killWhen(n.b, "the viewer holds some but not all instances", func() bool {
			got := n.viewer.Count() - f.viewerBase
			return f.rowState(n.b, "incoming") != gwStatesOK && got >= 3 && got < len(f.study.Files)
		})
		f.restart(n.b)
		f.check(t)
	})

	t.Run("county-b and main killed with the envelope in flight", func(t *testing.T) {
		// county-b goes down while gateway A still receives (the study
		// completes stable_after later), so the envelope cannot get past
		// main; main is killed while its queue to county-b holds it, and
		// restarted before county-b.
		f := startFault(t, n)
		n.countyB.Kill()
		if s := f.rowState(n.a, "outgoing"); s != "receiving" {
			t.Fatalf("gateway A's row is %q when county-b went down, want receiving (stable_after not over)", s)
		}
		waitUntil(t, "gateway A's row is announced", func() bool { return f.rowState(n.a, "outgoing") == "announced" })
		waitUntil(t, "main queues the envelope for county-b", func() bool { return n.main.Status().Queues["child/county-b"] > 0 })
		n.main.Kill()
		n.main.Start()
		n.countyB.Start()
		// No gateway died: gateway B knows everything it stored (it may
		// have stored part of the study from an earlier partial
		// announcement), so nothing may reach the viewer twice.
		f.restartAt = time.Now()
		f.storedAtKill = len(f.study.Files)
		f.check(t)
	})

	t.Run("SIGTERM stops both gateways cleanly and they carry on", func(t *testing.T) {
		for _, g := range []*gwProc{n.a, n.b} {
			if err := g.Terminate(); err != nil {
				t.Errorf("%s after SIGTERM: %v, want exit status 0", g.Name, err)
			}
			g.Start()
		}
		study, dir := genStudyDir(t, dicomgen.Options{Instances: 3, InstanceBytes: 4 << 10})
		mustStorescu(t, n.a.DICOM, aetRouteB, dir)
		out, in := acknowledged(t, n.a, n.b, study.StudyUID, nil)
		checkReceipt(t, out, in, 3, 3, 0)
	})
}

// fault is one study sent while a process of the path is killed.
type fault struct {
	t          *testing.T
	n          *gwNet
	study      dicomgen.Result
	want       map[string]wantInst
	viewerBase int
	// storedAtKill is what gateway B reported stored or already present
	// for the study just before the kill; restartAt is when the killed
	// process was started again.
	storedAtKill int
	restartAt    time.Time
	states       []string // states seen while waiting for the kill
}

// startFault generates a study and sends it to gateway A (storescu
// returns once gateway A has acknowledged every instance).
func startFault(t *testing.T, n *gwNet) *fault {
	study, dir := genStudyDir(t, faultStudy())
	f := &fault{t: t, n: n, study: study, want: expectedSums(t, study), viewerBase: n.viewer.Count()}
	mustStorescu(t, n.a.DICOM, aetRouteB, dir)
	return f
}

// rows reads the study's rows with `dicomgw studies --json`, as an
// operator watching the transfer would; nil when the gateway is down.
func (f *fault) rows(g *gwProc) []gwRow {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("dicomgw"), "studies", "--gateway", g.URL, "--study", f.study.StudyUID, "--json")
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var rows []gwRow
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r gwRow
		if json.Unmarshal([]byte(strings.TrimSpace(sc.Text())), &r) == nil && r.StudyUID == f.study.StudyUID {
			rows = append(rows, r)
		}
	}
	return rows
}

// rowState returns the state of the study's row on side ("" when there
// is none), and records gateway B's stored count on the way.
func (f *fault) rowState(g *gwProc, side string) string {
	all := f.rows(g)
	checkStates(f.t, all)
	rows := rowsOf(all, side)
	if len(rows) == 0 {
		return ""
	}
	r := rows[len(rows)-1]
	if len(f.states) == 0 || f.states[len(f.states)-1] != side+":"+r.State {
		f.states = append(f.states, side+":"+r.State)
	}
	return r.State
}

// killWhen polls cond and kills g (kill -9) as soon as it holds. Gateway
// B's stored count is read right before each check of cond, so it is at
// most what gateway B had recorded at the kill.
func (f *fault) killWhen(g *gwProc, what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(gwWait)
	for {
		stored := f.storedAtB()
		if cond() {
			g.Kill()
			f.storedAtKill = stored
			f.t.Logf("killed %s when %s (B had stored %d); states seen %v", g.Name, what, stored, f.states)
			return
		}
		if rows := rowsOf(f.rows(f.n.b), "incoming"); len(rows) > 0 && rows[len(rows)-1].State == gwStatesOK {
			f.t.Fatalf("the transfer was acknowledged before %s could be seen: states seen %v", what, f.states)
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting until %s; states seen %v", what, f.states)
		}
	}
}

func (f *fault) storedAtB() int {
	for _, r := range rowsOf(f.rows(f.n.b), "incoming") {
		return r.Stored + r.AlreadyPresent
	}
	return 0
}

func (f *fault) restart(g *gwProc) {
	f.restartAt = time.Now()
	g.Start()
}

// check waits for the receipt and checks the viewer.
//
// The bound on duplicates: gateway B may send an instance twice only if
// the viewer had it before the restart (its first copy is older than
// restartAt: only the killed association can have delivered it, since no
// gateway B ran between kill and restart) and gateway B had not recorded
// it as stored (storedAtKill, read before the kill, is at most what it
// had recorded). So duplicates <= (instances at the viewer before the
// restart) - storedAtKill, and only such instances may be duplicated.
func (f *fault) check(t *testing.T) {
	t.Helper()
	total := len(f.study.Files)
	out, in := acknowledged(t, f.n.a, f.n.b, f.study.StudyUID, func(r gwRow) bool { return r.Instances == total })
	for _, r := range []gwRow{out, in} {
		if r.Stored+r.AlreadyPresent != total || r.Failed != 0 || r.Error != "" {
			t.Errorf("%s row: %v, want stored+already_present=%d, failed=0, no error", r.Side, r, total)
		}
	}
	dups := checkArrived(t, f.n.viewer, f.want)
	got := f.n.viewer.Received(t)
	early := 0
	for uid := range f.want {
		copies := got[uid]
		if len(copies) > 0 && oldest(copies).Before(f.restartAt) {
			early++
		} else if len(copies) > 1 {
			t.Errorf("instance %s was delivered %d times, but none of them before the restart: not in flight at the kill", uid, len(copies))
		}
	}
	bound := max(early-f.storedAtKill, 0)
	t.Logf("viewer: %d instances before the restart, %d recorded stored at the kill: at most %d in flight; %d duplicates",
		early, f.storedAtKill, bound, dups)
	if dups > bound {
		t.Errorf("the viewer got %d duplicate copies, more than the %d instances proven in flight at the kill", dups, bound)
	}
}

func oldest(copies []viewerCopy) time.Time {
	o := copies[0].mod
	for _, c := range copies[1:] {
		if c.mod.Before(o) {
			o = c.mod
		}
	}
	return o
}

// waitUntil polls cond for up to gwWait.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(gwWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", gwWait, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
