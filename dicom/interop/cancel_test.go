package interop

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom/dimse"
)

// slowStore is a move destination that takes its time over each instance,
// so that a move is still running when it is cancelled.
type slowStore struct {
	delay  time.Duration
	stored atomic.Int64
}

func (s *slowStore) Store(ctx context.Context, in *dimse.IncomingStore, data io.Reader) (dimse.Status, error) {
	if _, err := io.Copy(io.Discard, data); err != nil {
		return dimse.StatusOutOfResources, err
	}
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
	}
	s.stored.Add(1)
	return dimse.StatusSuccess, nil
}

// TestMoveCancelAgainstDcmqrscp interrupts dicomgw move while dcmqrscp is
// sending sub-operations to a slow destination: dicomgw sends C-CANCEL,
// dcmqrscp stops and answers FE00 (cancel), and dicomgw reports it and
// exits with failure after fewer than all instances were moved.
func TestMoveCancelAgainstDcmqrscp(t *testing.T) {
	need(t, "dcmqrscp", "storescu")
	const n = 40
	study := testRoot + ".41"
	files := genStudy(t, filepath.Join(t.TempDir(), "s"), study, n, 8, 8, 1)
	dest := &slowStore{delay: 100 * time.Millisecond}
	srv := dimse.NewServer(dimse.ServerOptions{AETitle: "GW", Store: dest})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := startArchive(t, ln.Addr().(*net.TCPAddr).Port, files)

	cmd := exec.Command(gwBin, "move", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--aet", "MOVER",
		"--called", "ARCHIVE", "--dest", "GW", "-k", "StudyInstanceUID="+study)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, "two sub-operations to complete", func() bool { return dest.stored.Load() >= 2 })
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("move did not end after SIGINT\n%s%s", stdout.String(), stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("move exit %v, want failure", err)
	}
	if out := stdout.String(); !strings.Contains(out, "status FE00 (cancel)") {
		t.Errorf("move output does not report the cancel:\nstdout:\n%s\nstderr:\n%s", out, stderr.String())
	}
	t.Logf("moved %d of %d\n%s%s", dest.stored.Load(), n, stdout.String(), stderr.String())
	if got := dest.stored.Load(); got >= n {
		t.Errorf("all %d instances moved despite the cancel", got)
	}
}
