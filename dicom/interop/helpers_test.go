package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
	"github.com/medrelay/medrelay/internal/testenv"
)

var gwBin string // the dicomgw binary built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dicomgw-interop")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gwBin = filepath.Join(dir, "dicomgw")
	out, err := exec.Command("go", "build", "-o", gwBin, "github.com/medrelay/medrelay/cmd/dicomgw").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build dicomgw: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	for _, d := range benchDir {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// need skips (or fails under CI, see internal/testenv) when a dcmtk tool
// is missing.
func need(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		testenv.Require(tb, tool)
	}
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// dcmtkEnv turns Nagle off in dcmtk tools.
func dcmtkEnv() []string { return append(os.Environ(), "TCP_NODELAY=1") }

// runTool runs a command to completion and returns its combined output.
func runTool(tb testing.TB, name string, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = dcmtkEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := runTool(tb, name, args...)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// server is a long-running process (dicomgw scp, storescp, dcmqrscp).
type server struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

// startServer starts a process and waits until port accepts connections;
// cleanup interrupts it and waits for it to exit.
func startServer(tb testing.TB, port int, name string, args ...string) *server {
	tb.Helper()
	s := &server{cmd: exec.Command(name, args...), out: &syncBuffer{}}
	s.cmd.Env = dcmtkEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.stop(tb) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not listen on %d: %s", name, port, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits; it returns the exit error.
func (s *server) stop(tb testing.TB) error {
	if s.cmd.ProcessState != nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-done
		tb.Errorf("%s did not stop on SIGTERM", s.cmd.Path)
		return fmt.Errorf("killed")
	}
}

// peakRSS reads the peak resident set size (VmHWM) of a running process.
func (s *server) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

func startGW(tb testing.TB, aet, dir string, extra ...string) (int, *server) {
	tb.Helper()
	port := freePort(tb)
	args := append([]string{"scp", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--aet", aet, "--dir", dir}, extra...)
	return port, startServer(tb, port, gwBin, args...)
}

// dataSetOf returns the meta and the data set bytes of a Part 10 file.
func dataSetOf(tb testing.TB, path string) (dicom.FileMeta, []byte) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	meta, rest, err := dicom.ReadFileMeta(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(rest)
	if err != nil {
		tb.Fatal(err)
	}
	return meta, b
}

// filesUnder lists regular files below dir, skipping the SCP's .incoming.
func filesUnder(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// sameDataSets checks that every sent file arrived, by SOP instance UID,
// with an identical data set and transfer syntax.
func sameDataSets(tb testing.TB, sent []string, got []string) {
	tb.Helper()
	byUID := map[string]string{}
	for _, p := range got {
		meta, _ := dataSetOf(tb, p)
		byUID[dicom.TrimUID(meta.MediaStorageSOPInstanceUID)] = p
	}
	for _, p := range sent {
		meta, want := dataSetOf(tb, p)
		uid := dicom.TrimUID(meta.MediaStorageSOPInstanceUID)
		gp, ok := byUID[uid]
		if !ok {
			tb.Errorf("%s (%s) was not received", p, uid)
			continue
		}
		gmeta, have := dataSetOf(tb, gp)
		if dicom.TrimUID(gmeta.TransferSyntaxUID) != dicom.TrimUID(meta.TransferSyntaxUID) {
			tb.Errorf("%s: transfer syntax %s, sent %s", gp, gmeta.TransferSyntaxUID, meta.TransferSyntaxUID)
		}
		if !bytes.Equal(have, want) {
			tb.Errorf("%s: data set differs from %s (%d bytes, sent %d)", gp, p, len(have), len(want))
		}
	}
}

// echoOK dials an SCP in process and runs C-ECHO (used to wait for peers).
func echoOK(addr, called string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dimse.Dial(ctx, addr, ul.Request{CallingAE: "T", CalledAE: called, Contexts: []ul.PresentationContext{
		{AbstractSyntax: dimse.Verification, TransferSyntaxes: []string{dimse.ImplicitVRLittle}}}}, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Echo(ctx)
}

// sameContent checks that every sent file arrived, by SOP instance UID,
// with the same attributes as dcmdump prints them: for peers (dcmqrscp)
// that may convert between implicit and explicit little endian.
func sameContent(tb testing.TB, sent []string, got []string) {
	tb.Helper()
	byUID := map[string]string{}
	for _, p := range got {
		meta, _ := dataSetOf(tb, p)
		byUID[dicom.TrimUID(meta.MediaStorageSOPInstanceUID)] = p
	}
	for _, p := range sent {
		meta, _ := dataSetOf(tb, p)
		gp, ok := byUID[dicom.TrimUID(meta.MediaStorageSOPInstanceUID)]
		if !ok {
			tb.Errorf("%s was not received", p)
			continue
		}
		if a, b := dumpDataSet(tb, p), dumpDataSet(tb, gp); a != b {
			tb.Errorf("%s differs from %s:\n%s\n---\n%s", gp, p, b, a)
		}
	}
}

func dumpDataSet(tb testing.TB, path string) string {
	out := mustRun(tb, "dcmdump", "-q", "+L", path)
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "(0002,") || strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
