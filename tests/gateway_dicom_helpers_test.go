package tests

// The DICOM side of the gateway tests: the viewer (storescp), reading what
// it wrote, and sending with storescu.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dicomgen"
)

// --- the viewer: dcmtk storescp ---

// viewer is storescp playing the radiologist's viewer: bit-preserving
// (+B: the data set is written as received) with unique file names (+uf:
// a second delivery of an instance is a second file).
type viewer struct {
	t     testing.TB
	Port  int
	Dir   string
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	out   *syncBuffer
	extra []string
}

// newViewer starts storescp on a free port; extra are more storescp
// options (e.g. to slow it down).
func newViewer(t testing.TB, extra ...string) *viewer {
	t.Helper()
	gwNeed(t, "storescp")
	v := &viewer{t: t, Port: freePort(t), Dir: t.TempDir(), extra: extra}
	v.Start()
	t.Cleanup(func() {
		v.Stop()
		if t.Failed() {
			t.Logf("--- storescp ---\n%s", tail(v.Output(), 20))
		}
	})
	return v
}

// Start runs storescp and waits until its port accepts connections.
func (v *viewer) Start() {
	v.t.Helper()
	args := []string{"--aetitle", aetViewer, "+B", "+uf", "-od", v.Dir}
	if !slices.Contains(v.extra, "-xf") { // an association profile replaces +xa
		args = append(args, "+xa")
	}
	args = append(args, v.extra...)
	args = append(args, fmt.Sprint(v.Port))
	cmd := exec.Command("storescp", args...)
	cmd.Env = dcmtkEnv()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	v.mu.Lock()
	v.cmd, v.done, v.out = cmd, done, out
	v.mu.Unlock()
	waitListening(v.t, fmt.Sprintf("127.0.0.1:%d", v.Port), done)
}

// Stop kills storescp.
func (v *viewer) Stop() {
	v.mu.Lock()
	cmd, done := v.cmd, v.done
	v.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Output is what storescp printed (only read it once it has stopped or
// for a failure report).
func (v *viewer) Output() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.out == nil {
		return ""
	}
	return v.out.String()
}

// Received maps each SOP instance UID at the viewer to its copies (one
// per file: a second delivery is a second copy). Files storescp has not
// finished writing (no complete meta group yet) are skipped.
func (v *viewer) Received(t testing.TB) map[string][]viewerCopy {
	t.Helper()
	return receivedIn(t, v.Dir)
}

// viewerCopy is one file at the viewer.
type viewerCopy struct {
	sum string    // SHA-256 of the data set after the meta group
	ts  string    // the file's transfer syntax
	mod time.Time // when storescp finished writing it
}

func sums(copies []viewerCopy) []string {
	var s []string
	for _, c := range copies {
		s = append(s, c.sum)
	}
	return s
}

// Count returns the number of files at the viewer (complete or not).
func (v *viewer) Count() int {
	n := 0
	filepath.WalkDir(v.Dir, func(_ string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func receivedIn(t testing.TB, dir string) map[string][]viewerCopy {
	t.Helper()
	got := map[string][]viewerCopy{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		uid, ts, ds, err := partTenDataSet(p)
		if err != nil {
			t.Logf("viewer file %s: %v", p, err)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		got[uid] = append(got[uid], viewerCopy{sum: sha(ds), ts: ts, mod: info.ModTime()})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// waitListening waits until addr accepts a TCP connection, or fails when
// done closes first (the process died).
func waitListening(t testing.TB, addr string, done <-chan struct{}) {
	t.Helper()
	waitFor(t, addr+" listening", func() bool {
		select {
		case <-done:
			t.Fatalf("the process for %s exited at start", addr)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// --- Part 10 files, independent of the dicom package under test ---

// partTenDataSet reads a Part 10 file and returns its Media Storage SOP
// Instance UID, its transfer syntax and the data set bytes after the meta
// group (group 0002, explicit VR little endian, read until the group
// changes, whatever its group length says).
func partTenDataSet(path string) (uid, ts string, dataSet []byte, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", nil, err
	}
	if len(b) < 132 || string(b[128:132]) != "DICM" {
		return "", "", nil, errors.New("no DICM prefix after the 128-byte preamble")
	}
	i := 132
	for {
		if i+8 > len(b) {
			return "", "", nil, errors.New("file ends inside the meta group")
		}
		group, elem := binary.LittleEndian.Uint16(b[i:]), binary.LittleEndian.Uint16(b[i+2:])
		if group != 0x0002 {
			break
		}
		vr := string(b[i+4 : i+6])
		var n, hdr int
		switch vr {
		case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
			if i+12 > len(b) {
				return "", "", nil, errors.New("file ends inside the meta group")
			}
			n, hdr = int(binary.LittleEndian.Uint32(b[i+8:])), 12
		default:
			n, hdr = int(binary.LittleEndian.Uint16(b[i+6:])), 8
		}
		if n < 0 || i+hdr+n > len(b) {
			return "", "", nil, fmt.Errorf("meta element (0002,%04x) runs past the end", elem)
		}
		switch elem {
		case 0x0003:
			uid = strings.TrimRight(string(b[i+hdr:i+hdr+n]), "\x00 ")
		case 0x0010:
			ts = strings.TrimRight(string(b[i+hdr:i+hdr+n]), "\x00 ")
		}
		i += hdr + n
	}
	if uid == "" {
		return "", "", nil, errors.New("no (0002,0003) media storage SOP instance UID")
	}
	return uid, ts, b[i:], nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// wantInst is what the viewer should get for one instance.
type wantInst struct {
	sum, ts string // the data set's SHA-256 and the transfer syntax it was sent in
}

// expectedSums maps each generated instance to its data set's SHA-256.
func expectedSums(t testing.TB, r dicomgen.Result) map[string]wantInst {
	t.Helper()
	want := map[string]wantInst{}
	for _, f := range r.Files {
		uid, ts, ds, err := partTenDataSet(f.Path)
		if err != nil || uid != f.SOPInstanceUID {
			t.Fatalf("generated %s: uid %q, %v", f.Path, uid, err)
		}
		want[uid] = wantInst{sum: sha(ds), ts: ts}
	}
	return want
}

// checkArrived compares what the viewer holds for the study with want:
// every instance present with a byte-identical data set. It returns the
// number of extra copies (duplicates), which the caller bounds.
func checkArrived(t testing.TB, v *viewer, want map[string]wantInst) (duplicates int) {
	t.Helper()
	return checkArrivedIn(t, v, want, false)
}

// checkArrivedConverted is checkArrived for a sender that may convert
// between uncompressed syntaxes: a copy in another syntax than the
// original is not compared.
func checkArrivedConverted(t testing.TB, v *viewer, want map[string]wantInst) (duplicates int) {
	t.Helper()
	return checkArrivedIn(t, v, want, true)
}

func checkArrivedIn(t testing.TB, v *viewer, want map[string]wantInst, converted bool) (duplicates int) {
	t.Helper()
	got := v.Received(t)
	missing, wrong := 0, 0
	for uid, w := range want {
		copies := got[uid]
		switch {
		case len(copies) == 0:
			missing++
			if missing <= 5 {
				t.Errorf("instance %s never reached the viewer", uid)
			}
		default:
			for _, c := range copies {
				if c.sum != w.sum && !(converted && c.ts != w.ts) {
					wrong++
					if wrong <= 5 {
						t.Errorf("instance %s reached the viewer with a different data set: sha256 %s in %s, want %s in %s",
							uid, c.sum[:12], c.ts, w.sum[:12], w.ts)
					}
				}
			}
			duplicates += len(copies) - 1
		}
	}
	if missing+wrong > 0 {
		t.Errorf("%d of %d instances missing at the viewer, %d copies with a different data set", missing, len(want), wrong)
	}
	return duplicates
}

// --- sending with storescu ---

// storescu sends files (or directories, scanned recursively) to addr with
// the given called title: dcmtk's storescu with Nagle off. It proposes
// each SOP class dicomgen writes in one context per transfer syntax
// (explicit and implicit little endian, JPEG baseline), each with that
// syntax alone, so every file travels in its own syntax: with storescu's
// default proposals (several syntaxes per context) the receiver picks one
// and storescu converts implicit files to explicit itself, and the viewer
// could not get the original data set bytes from anyone.
func storescu(ctx context.Context, addr, called string, paths ...string) (string, error) {
	cfg, err := storescuConfig()
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(addr)
	args := append([]string{"-xf", cfg, "Gateway", "+sd", "+r", "-aet", aetClinic, "-aec", called, host, port}, paths...)
	cmd := exec.CommandContext(ctx, "storescu", args...)
	cmd.Env = dcmtkEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var (
	storescuCfgOnce sync.Once
	storescuCfg     string
	storescuCfgErr  error
)

// storescuConfig writes storescu's association configuration (profile
// "Gateway") once per test binary.
func storescuConfig() (string, error) {
	storescuCfgOnce.Do(func() {
		var b strings.Builder
		b.WriteString("[[TransferSyntaxes]]\n")
		syntaxes := []string{dicom.ExplicitVRLittleEndian, dicom.ImplicitVRLittleEndian, dicom.JPEGBaseline8Bit}
		for i, ts := range syntaxes {
			fmt.Fprintf(&b, "[TS%d]\nTransferSyntax1 = %s\n", i, ts)
		}
		b.WriteString("\n[[PresentationContexts]]\n[Contexts]\n")
		classes := []string{dicom.MultiFrameGrayWordSC, dicom.VLPhotographicImageStorage}
		for _, c := range dicomgen.Classes {
			classes = append(classes, c.UID)
		}
		n := 0
		for _, c := range classes {
			for i := range syntaxes {
				n++
				fmt.Fprintf(&b, "PresentationContext%d = %s\\TS%d\n", n, c, i)
			}
		}
		b.WriteString("\n[[Profiles]]\n[Gateway]\nPresentationContexts = Contexts\n")
		storescuCfg = filepath.Join(binDir, "storescu-gateway.cfg")
		storescuCfgErr = os.WriteFile(storescuCfg, []byte(b.String()), 0o644)
	})
	return storescuCfg, storescuCfgErr
}

// mustStorescu is storescu that fails the test on an error.
func mustStorescu(t testing.TB, addr, called string, paths ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), gwWait)
	defer cancel()
	if out, err := storescu(ctx, addr, called, paths...); err != nil {
		t.Fatalf("storescu to %s (%s): %v\n%s", addr, called, err, tail(out, 20))
	}
}
