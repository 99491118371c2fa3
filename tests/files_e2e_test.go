package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/filestore/filestoretest"
	"github.com/medrelay/medrelay/filestore/miniotest"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// filesMinio starts a MinIO for one test: skipped without the binary,
// failed under CI (internal/testenv).
func filesMinio(t testing.TB) *miniotest.Server {
	t.Helper()
	bin := miniotest.Require(t)
	srv, err := miniotest.Start(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// filesS3 is a filestore section for srv's bucket.
func filesS3(srv *miniotest.Server, bucket, mode string) string {
	return fmt.Sprintf("filestore:\n  kind: s3\n  endpoint: %s\n  bucket: %s\n  access_key: %s\n  secret_key: %s\n  mode: %s\n",
		srv.Endpoint, bucket, srv.AccessKey, srv.SecretKey, mode)
}

// filesRandom writes size pseudo-random bytes to a new file and returns
// its path and hex SHA-256.
func filesRandom(t testing.TB, dir string, size int64) (string, string) {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("study-%d.bin", size))
	return path, filestoretest.WriteFile(t, path, uint64(size), size)
}

type filesSendSummary struct {
	ID    string `json:"id"`
	Files []struct {
		Name         string `json:"name"`
		Key          string `json:"key"`
		SHA256       string `json:"sha256"`
		PartsSent    int    `json:"parts_sent"`
		PartsSkipped int    `json:"parts_skipped"`
		Resumed      bool   `json:"resumed"`
	} `json:"files"`
}

func filesParseSummary(t testing.TB, out string) filesSendSummary {
	t.Helper()
	var s filesSendSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil || len(s.Files) != 1 {
		t.Fatalf("send --json printed %q: %v", out, err)
	}
	return s
}

// filesListen runs listen --save-dir for one envelope in the background.
func filesListen(t *testing.T, ctx context.Context, relayURL, id, dir string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := ctl(t, ctx, "listen", "--relay", relayURL, "--id", id, "--count", "1", "--timeout", "2m", "--save-dir", dir)
		done <- err
	}()
	return done
}

// TestFilesEndToEnd runs main, county-a and county-b on one MinIO bucket:
// county-a in proxy mode, county-b and main in direct mode, and
// township-a1 under county-a without storage of its own.
func TestFilesEndToEnd(t *testing.T) {
	srv := filesMinio(t)
	bucket := srv.NewBucket(t)
	dir := t.TempDir()
	mainR := newRelay(t, dir, "main", nil, filesS3(srv, bucket, "direct"))
	countyA := newRelay(t, dir, "county-a", mainR, filesS3(srv, bucket, "proxy"))
	countyB := newRelay(t, dir, "county-b", mainR, filesS3(srv, bucket, "direct"))
	township := newRelay(t, dir, "township-a1", countyA, "")
	waitFor(t, "main routes to all three nodes", func() bool { return routedRelays(mainR) == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	big, bigSum := filesRandom(t, t.TempDir(), 200<<20)

	t.Run("200 MB through proxy on one side and direct on the other", func(t *testing.T) {
		save := t.TempDir()
		done := filesListen(t, ctx, countyB.URL, "clinic-b", save)
		out, err := ctl(t, ctx, "send", "--relay", countyA.URL, "--id", "clinic-a", "--to", "county-b/clinic-b",
			"--command", "study.send", "--file", big, "--json", "--state-dir", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if s := filesParseSummary(t, out); s.Files[0].SHA256 != bigSum {
			t.Fatalf("sent sha256 %s, want %s", s.Files[0].SHA256, bigSum)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := filestoretest.FileSum(t, filepath.Join(save, filepath.Base(big))); got != bigSum {
			t.Fatalf("receiver's copy has sha256 %s, want %s", got, bigSum)
		}
	})

	t.Run("kill -9 mid-upload, then resume with the missing parts only", func(t *testing.T) {
		state := t.TempDir()
		args := []string{"send", "--relay", township.URL, "--id", "clinic-t", "--to", "county-b/clinic-r",
			"--command", "study.resume", "--file", big, "--json", "--state-dir", state, "--part-size", "5242880"}
		const total = (200 << 20) / (5 << 20)
		cmd := exec.Command(bin("medrelayctl"), args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var before int
	poll:
		for {
			select {
			case err := <-exited:
				t.Fatalf("the upload ended (%v) before it could be killed", err)
			default:
			}
			if before = filesStateParts(state); before >= 3 {
				break poll
			}
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		before = filesStateParts(state)
		if before >= total {
			t.Fatalf("all %d parts were done before the kill", before)
		}
		save := t.TempDir()
		done := filesListen(t, ctx, countyB.URL, "clinic-r", save)
		out, err := ctl(t, ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		f := filesParseSummary(t, out).Files[0]
		t.Logf("killed with %d parts recorded; resumed: sent %d, skipped %d", before, f.PartsSent, f.PartsSkipped)
		if !f.Resumed || f.PartsSkipped < before || f.PartsSent+f.PartsSkipped != total || f.PartsSent >= total {
			t.Fatalf("got %+v, want resumed with at least %d of %d parts skipped", f, before, total)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := filestoretest.FileSum(t, filepath.Join(save, filepath.Base(big))); got != bigSum {
			t.Fatalf("receiver's copy has sha256 %s, want %s", got, bigSum)
		}
	})

	t.Run("a corrupted object is detected by the receiver", func(t *testing.T) {
		small, _ := filesRandom(t, t.TempDir(), 3<<20)
		out, err := ctl(t, ctx, "send", "--relay", countyA.URL, "--id", "clinic-a", "--to", "county-b/clinic-c",
			"--command", "study.send", "--file", small, "--json", "--state-dir", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		key := filesParseSummary(t, out).Files[0].Key
		filesCorrupt(t, srv, bucket, key)
		_, err = ctl(t, ctx, "listen", "--relay", countyB.URL, "--id", "clinic-c", "--count", "1", "--timeout", "1m", "--save-dir", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), filepath.Base(small)) || !strings.Contains(err.Error(), "sha256 mismatch") {
			t.Fatalf("got %v, want a failure naming %s and the sha256 mismatch", err, filepath.Base(small))
		}
	})

	t.Run("references outside the store or to missing objects are refused", func(t *testing.T) {
		c, err := client.Dial(ctx, client.Options{Relay: countyA.URL, ID: "clinic-bad"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sum := strings.Repeat("ab", 32)
		for to, tt := range map[string]struct {
			ref  *pb.FileRef
			want string
		}{
			"clinic-x": {&pb.FileRef{Store: "county-a", Bucket: bucket, Key: "../../etc/passwd", Sha256: sum, Name: "passwd"}, "points outside the store"},
			"clinic-y": {&pb.FileRef{Store: "county-a", Bucket: bucket, Key: "county-a/clinic-bad/none", Sha256: sum, Name: "gone.dcm"}, "gone.dcm"},
		} {
			if _, err := c.Send(ctx, "county-b/"+to, "study.send", nil, nil, client.WithFiles(tt.ref)); err != nil {
				t.Fatal(err)
			}
			_, err := ctl(t, ctx, "listen", "--relay", countyB.URL, "--id", to, "--count", "1", "--timeout", "1m", "--save-dir", t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: got %v, want a failure containing %q", to, err, tt.want)
			}
		}
	})

	t.Run("gc runs where the storage is", func(t *testing.T) {
		out, err := ctl(t, ctx, "files", "gc", "--relay", countyA.URL, "--older-than", "30d")
		if err != nil || !strings.Contains(out, "scanned") {
			t.Fatalf("gc at county-a: %q, %v", out, err)
		}
		if _, err := ctl(t, ctx, "files", "gc", "--relay", township.URL, "--older-than", "30d"); err == nil || !strings.Contains(err.Error(), "keeps no files") {
			t.Fatalf("gc at township-a1: got %v, want a refusal pointing at its parent", err)
		}
	})

	t.Run("bad storage settings are named at startup", func(t *testing.T) {
		filesBadSettings(t, srv, bucket)
	})
}

// filesStateParts counts the parts recorded in an upload state file.
func filesStateParts(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "upload-*.json"))
	for _, f := range m {
		var st struct {
			Parts []json.RawMessage `json:"parts"`
		}
		if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &st) == nil {
			return len(st.Parts)
		}
	}
	return 0
}

// filesCorrupt overwrites key with other bytes of the same size, keeping
// its metadata (and so its recorded SHA-256).
func filesCorrupt(t *testing.T, srv *miniotest.Server, bucket, key string) {
	t.Helper()
	mc := srv.Client(t)
	ctx := context.Background()
	st, err := mc.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, st.Size)
	rand.Read(junk)
	if _, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(junk), st.Size,
		minio.PutObjectOptions{UserMetadata: st.UserMetadata, ContentType: st.ContentType}); err != nil {
		t.Fatal(err)
	}
}

// filesBadSettings runs check-config and serve with broken filestore
// sections and expects each to fail naming the setting.
func filesBadSettings(t *testing.T, srv *miniotest.Server, bucket string) {
	dir := t.TempDir()
	good := filesS3(srv, bucket, "direct")
	tests := []struct{ name, section, want string }{
		{"wrong secret key", strings.Replace(good, srv.SecretKey, "wrong-secret-key", 1), "filestore.access_key/secret_key"},
		{"unknown access key", strings.Replace(good, srv.AccessKey, "nobody", 1), "filestore.access_key/secret_key"},
		{"missing bucket", strings.Replace(good, bucket, "no-such-bucket", 1), `filestore.bucket "no-such-bucket" does not exist`},
		{"unreachable endpoint", strings.Replace(good, srv.Endpoint, fmt.Sprintf("127.0.0.1:%d", freePort(t)), 1), "filestore.endpoint"},
		{"missing credentials", strings.Replace(good, "  secret_key: "+srv.SecretKey+"\n", "", 1), "filestore.secret_key is required"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fmt.Sprintf("id: bad\nrole: main\ndata_dir: %s\nlisten:\n  http: 127.0.0.1:%d\n%s", filepath.Join(dir, "data"), freePort(t), tt.section)
			path := filepath.Join(dir, fmt.Sprintf("bad-%d.yaml", i))
			os.WriteFile(path, []byte(cfg), 0o644)
			for _, cmd := range []string{"check-config", "serve"} {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := exec.CommandContext(ctx, bin("medrelay"), cmd, "--config", path).CombinedOutput()
				cancel()
				if err == nil || !strings.Contains(string(out), tt.want) {
					t.Errorf("medrelay %s: got %v: %s, want a failure containing %q", cmd, err, out, tt.want)
				}
			}
		})
	}
}
