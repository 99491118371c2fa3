// Package miniotest runs a real MinIO server for tests: one per test
// binary, on random loopback ports, with a temporary data directory and
// random credentials.
//
// The binary is looked up in PATH and in $(go env GOPATH)/bin (see
// scripts/deps.sh, which installs the pinned build). When it is missing a
// test is skipped, or fails under CI (internal/testenv decides).
//
// Use it from TestMain so the server stops when the tests end:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.RunMain(m)) }
//
//	func TestX(t *testing.T) {
//		srv := miniotest.Shared(t)
//		bucket := srv.NewBucket(t)
//		...
//	}
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/medrelay/medrelay/internal/testenv"
)

// Server is a running MinIO.
type Server struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string

	cmd  *exec.Cmd
	dir  string
	out  *syncBuffer
	done chan struct{}
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Shared returns the test binary's MinIO, starting it on first use. It
// skips t (fails it under CI) when the binary is missing.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := Require(t)
	sharedOnce.Do(func() { shared, sharedErr = Start(bin) })
	if sharedErr != nil {
		t.Fatalf("miniotest: %v", sharedErr)
	}
	return shared
}

// RunMain runs the tests and stops the shared server afterwards.
func RunMain(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Require returns the minio executable's path; when it is missing the test
// is skipped, or fails under CI (internal/testenv).
func Require(t testing.TB) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		testenv.Missing(t, "miniotest: %v", err)
	}
	return bin
}

// Binary finds the minio executable.
func Binary() (string, error) {
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
			p := filepath.Join(dir, "bin", "minio")
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	return "", errors.New("minio server binary not found in PATH or $(go env GOPATH)/bin; install the pinned build with scripts/deps.sh " +
		"(go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c)")
}

// Start launches bin and waits until it is live.
func Start(bin string) (*Server, error) {
	var lastErr error
	for range 3 { // a random port may be taken between probe and start
		s, err := start(bin)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "miniotest-*")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("127.0.0.1:%d", ports[0]),
		AccessKey: "mt" + randHex(8),
		SecretKey: randHex(20),
		dir:       dir,
		out:       &syncBuffer{},
		done:      make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "server", "--quiet",
		"--address", s.Endpoint,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		filepath.Join(dir, "data"))
	s.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_UPDATE=off", "MINIO_BROWSER=off")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	setDeathSignal(s.cmd)
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start minio: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	if err := s.waitLive(30 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitLive(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	url := "http://" + s.Endpoint + "/minio/health/live"
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("minio exited during start: %s", s.out.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("minio not live at %s after %v: %s", url, timeout, s.out.String())
}

// Stop kills the server and removes its data.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// Client returns a minio-go client with the root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatalf("miniotest: client: %v", err)
	}
	return c
}

// NewBucket creates a bucket with a fresh name for one test.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := "t-" + randHex(8)
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("miniotest: make bucket: %v", err)
	}
	return name
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 64<<10 {
		return len(p), nil // keep the start, where startup errors are
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
