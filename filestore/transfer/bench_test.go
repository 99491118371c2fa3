package transfer_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/filestore/transfer"
)

// BenchmarkDirectVsPlain uploads and downloads one file through
// transfer in direct mode (relay handler presigning for MinIO), and the
// same file with plain minio-go FPutObject + GetObject against the same
// MinIO, and reports both rates and their ratio.
//
//	MEDRELAY_BENCH_MB=1024 go test -run '^$' -bench DirectVsPlain -benchtime 1x ./filestore/transfer/
func BenchmarkDirectVsPlain(b *testing.B) {
	mb := 64
	if v := os.Getenv("MEDRELAY_BENCH_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("MEDRELAY_BENCH_MB=%q: want a positive number of MiB", v)
		}
		mb = n
	}
	size := int64(mb) << 20
	path, sum := writeFile(b, 8, size)
	st, srv := openS3(b)
	r := relay(b, st, filehttp.ModeDirect)
	mc := srv.Client(b)
	ctx := context.Background()
	dir := b.TempDir()
	var ours, plain time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("bench/%d", i)
		t0 := time.Now()
		res, err := transfer.Upload(ctx, r, path, key+"-ours", filestore.PutOptions{}, transfer.Options{})
		if err != nil {
			b.Fatal(err)
		}
		dst := filepath.Join(dir, "ours")
		if _, err := transfer.Download(ctx, r, res.Info.Ref("", ""), dst, transfer.Options{}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		os.Remove(dst)

		t0 = time.Now()
		if _, err := mc.FPutObject(ctx, st.Bucket(), key+"-plain", path, minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
		obj, err := mc.GetObject(ctx, st.Bucket(), key+"-plain", minio.GetObjectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "plain"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(f, obj); err != nil {
			b.Fatal(err)
		}
		f.Sync()
		f.Close()
		obj.Close()
		plain += time.Since(t0)
		os.Remove(f.Name())
		if res.Info.SHA256 != sum {
			b.Fatal("sha256 differs")
		}
	}
	moved := float64(2*size*int64(b.N)) / (1 << 20)
	b.ReportMetric(moved/ours.Seconds(), "ours_MiB/s")
	b.ReportMetric(moved/plain.Seconds(), "plain_MiB/s")
	b.ReportMetric(plain.Seconds()/ours.Seconds(), "ratio")
}
