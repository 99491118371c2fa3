package tests

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// BenchmarkFilesDirectVsPlain uploads and downloads one file through
// medrelay in direct mode (medrelayctl send --file, then medrelayctl
// listen --save-dir, real processes) and with plain minio-go PutObject and
// GetObject against the same MinIO, and reports both throughputs, their
// ratio and the sender's peak RSS. Size in MiB from MEDRELAY_BENCH_MB
// (default 1024):
//
//	go test -run '^$' -bench FilesDirectVsPlain -benchtime 1x ./tests/
func BenchmarkFilesDirectVsPlain(b *testing.B) {
	mb := int64(1024)
	if v, err := strconv.ParseInt(os.Getenv("MEDRELAY_BENCH_MB"), 10, 64); err == nil && v > 0 {
		mb = v
	}
	size := mb << 20
	srv := filesMinio(b)
	bucket := srv.NewBucket(b)
	dir := b.TempDir()
	mainR := newRelay(b, dir, "main", nil, filesS3(srv, bucket, "direct"))
	src, _ := filesRandom(b, b.TempDir(), size)
	mc := srv.Client(b)
	ctx := context.Background()
	var relayTime, plainTime time.Duration
	var rss int64
	for i := 0; i < b.N; i++ {
		save := b.TempDir()
		start := time.Now()
		send := exec.Command(bin("medrelayctl"), "send", "--relay", mainR.URL, "--id", "bench-a", "--to", "main/bench-b",
			"--command", "bench.file", "--file", src, "--state-dir", b.TempDir())
		if out, err := send.CombinedOutput(); err != nil {
			b.Fatalf("send: %v: %s", err, out)
		}
		rss = max(rss, send.ProcessState.SysUsage().(*syscall.Rusage).Maxrss<<10)
		if out, err := exec.Command(bin("medrelayctl"), "listen", "--relay", mainR.URL, "--id", "bench-b",
			"--count", "1", "--timeout", "10m", "--save-dir", save).CombinedOutput(); err != nil {
			b.Fatalf("listen: %v: %s", err, out)
		}
		relayTime += time.Since(start)
		os.RemoveAll(save)

		start = time.Now()
		plainRoundTrip(b, ctx, mc, bucket, fmt.Sprintf("plain-%d", i), src, size, filepath.Join(dir, "plain-copy"))
		plainTime += time.Since(start)
	}
	rate := func(d time.Duration) float64 { return float64(2*size*int64(b.N)) / (1 << 20) / d.Seconds() }
	b.ReportMetric(rate(relayTime), "medrelay_MiB/s")
	b.ReportMetric(rate(plainTime), "plain_MiB/s")
	b.ReportMetric(rate(relayTime)/rate(plainTime)*100, "%_of_plain")
	b.ReportMetric(float64(rss)/(1<<20), "sender_peak_rss_MiB")
}

// plainRoundTrip is minio-go PutObject of the file and GetObject into a file.
func plainRoundTrip(b *testing.B, ctx context.Context, mc *minio.Client, bucket, key, src string, size int64, dst string) {
	f, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := mc.PutObject(ctx, bucket, key, f, size, minio.PutObjectOptions{}); err != nil {
		b.Fatal(err)
	}
	obj, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer obj.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(dst)
	defer out.Close()
	if n, err := io.Copy(out, obj); err != nil || n != size {
		b.Fatalf("get: %d bytes, %v", n, err)
	}
	out.Sync()
}
