package transfer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/filestore/filestoretest"
	"github.com/medrelay/medrelay/filestore/transfer"
)

const partSize = filestore.MinPartSize

// remotes are the ways a client reaches storage.
func remotes(t *testing.T) map[string]func(t *testing.T) transfer.Remote {
	return map[string]func(t *testing.T) transfer.Remote{
		"local-store":  func(t *testing.T) transfer.Remote { return openLocal(t) },
		"local-proxy":  func(t *testing.T) transfer.Remote { return relay(t, openLocal(t), filehttp.ModeProxy) },
		"local-direct": func(t *testing.T) transfer.Remote { return relay(t, openLocal(t), filehttp.ModeDirect) },
		"s3-proxy":     func(t *testing.T) transfer.Remote { s, _ := openS3(t); return relay(t, s, filehttp.ModeProxy) },
		"s3-direct":    func(t *testing.T) transfer.Remote { s, _ := openS3(t); return relay(t, s, filehttp.ModeDirect) },
	}
}

func TestRoundTrip(t *testing.T) {
	path, sum := writeFile(t, 1, 3*partSize+777)
	for name, open := range remotes(t) {
		t.Run(name, func(t *testing.T) {
			r := open(t)
			ctx := context.Background()
			var last int64
			res, err := transfer.Upload(ctx, r, path, "studies/rt", filestore.PutOptions{EnvelopeID: "env"},
				transfer.Options{PartSize: partSize, StateDir: t.TempDir(), Progress: func(d, _ int64) { last = d }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Info.SHA256 != sum || res.PartsSent != 4 || last != 3*partSize+777 {
				t.Fatalf("Upload = %+v, last progress %d; want sha %s, 4 parts", res, last, sum)
			}
			dst := filepath.Join(t.TempDir(), "got.bin")
			ref := res.Info.Ref("relay", "")
			if _, err := transfer.Download(ctx, r, ref, dst, transfer.Options{}); err != nil {
				t.Fatal(err)
			}
			if got := filestoretest.FileSum(t, dst); got != sum {
				t.Fatalf("downloaded sha %s, want %s", got, sum)
			}
			var sb strings.Builder
			if _, err := transfer.Fetch(ctx, r, ref, &sb, transfer.Options{}); err != nil || sb.Len() != int(ref.Size) {
				t.Fatalf("Fetch: %d bytes, %v", sb.Len(), err)
			}
		})
	}
}

func TestUploadResumesMissingPartsOnly(t *testing.T) {
	path, sum := writeFile(t, 2, 6*partSize+1)
	for _, name := range []string{"local-proxy", "s3-direct"} {
		t.Run(name, func(t *testing.T) {
			r := remotes(t)[name](t)
			ctx := context.Background()
			state := t.TempDir()
			opts := transfer.Options{PartSize: partSize, StateDir: state, Concurrency: 2, Attempts: 1}
			// First run: the link is cut after 3 parts.
			cut := &flaky{Remote: r, failAfter: 3}
			_, err := transfer.Upload(ctx, cut, path, "resume/obj", filestore.PutOptions{}, opts)
			if !errors.Is(err, errCut) {
				t.Fatalf("first run: %v, want the cut", err)
			}
			// Second run in a new process would find the same state file.
			again := &flaky{Remote: r}
			res, err := transfer.Upload(ctx, again, path, "resume/obj", filestore.PutOptions{}, opts)
			if err != nil {
				t.Fatal(err)
			}
			// Every part the first run saw stored is skipped. The other
			// part in flight when the link broke may or may not have
			// reached the remote before the upload gave up: if it did,
			// it is skipped too. No part is sent twice.
			first := cut.parts.Load()
			skipped, sent := int64(res.PartsSkipped), int64(res.PartsSent)
			if first < 2 || !res.Resumed || skipped < first || skipped > first+1 ||
				skipped+sent != 7 || again.parts.Load() != sent {
				t.Fatalf("first run saw %d parts stored; second run = %+v, %d parts uploaded; want resumed, %d or %d skipped, the rest sent",
					first, res, again.parts.Load(), first, first+1)
			}
			if res.Info.SHA256 != sum {
				t.Fatalf("sha %s, want %s", res.Info.SHA256, sum)
			}
			if ents, _ := os.ReadDir(state); len(ents) != 0 {
				t.Errorf("state dir keeps %d files after completion", len(ents))
			}
		})
	}
}

func TestUploadResumesAfterCancel(t *testing.T) {
	path, _ := writeFile(t, 3, 5*partSize)
	r := openLocal(t)
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opts := transfer.Options{PartSize: partSize, StateDir: state, Concurrency: 1}
	count := &flaky{Remote: r}
	opts.Progress = func(done, total int64) {
		if done >= 2*partSize {
			cancel() // the process dies after two parts
		}
	}
	_, err := transfer.Upload(ctx, count, path, "cancel/obj", filestore.PutOptions{}, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want context.Canceled", err)
	}
	first := count.parts.Load()
	opts.Progress = nil
	again := &flaky{Remote: r}
	res, err := transfer.Upload(context.Background(), again, path, "cancel/obj", filestore.PutOptions{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.parts.Load() != 5-first || res.PartsSkipped != int(first) {
		t.Fatalf("second run sent %d parts after %d, want %d", again.parts.Load(), first, 5-first)
	}
}

func TestDownloadResumes(t *testing.T) {
	path, sum := writeFile(t, 4, 2*partSize+5)
	r := openLocal(t)
	ctx := context.Background()
	res, err := transfer.Upload(ctx, r, path, "dl/obj", filestore.PutOptions{}, transfer.Options{PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "got.bin")
	cut := &flaky{Remote: r, cutAt: partSize + 3}
	_, err = transfer.Download(ctx, cut, res.Info.Ref("", ""), dst, transfer.Options{Attempts: 1})
	if !errors.Is(err, errCut) {
		t.Fatalf("first download: %v, want the cut", err)
	}
	if fi, err := os.Stat(dst + transfer.PartialSuffix); err != nil || fi.Size() != partSize+3 {
		t.Fatalf("partial file: %v, %v; want %d bytes", fi, err, partSize+3)
	}
	again := &flaky{Remote: r}
	if _, err := transfer.Download(ctx, again, res.Info.Ref("", ""), dst, transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if len(again.offsets) != 1 || again.offsets[0] != partSize+3 {
		t.Errorf("resumed download asked offsets %v, want [%d]", again.offsets, partSize+3)
	}
	if filestoretest.FileSum(t, dst) != sum {
		t.Error("resumed download differs from the original")
	}
}

func TestDownloadDetectsCorruption(t *testing.T) {
	path, _ := writeFile(t, 5, partSize+100)
	ctx := context.Background()
	t.Run("local", func(t *testing.T) {
		ls := openLocal(t)
		r := relay(t, ls, filehttp.ModeProxy)
		res, err := transfer.Upload(ctx, r, path, "bad/local.bin", filestore.PutOptions{}, transfer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.OpenFile(ls.ObjectPath("bad/local.bin"), os.O_RDWR, 0)
		f.WriteAt([]byte("tampered"), 1000)
		f.Close()
		checkCorrupt(t, r, res.Info.Ref("", ""))
	})
	t.Run("minio", func(t *testing.T) {
		st, srv := openS3(t)
		r := relay(t, st, filehttp.ModeDirect)
		res, err := transfer.Upload(ctx, r, path, "bad/minio.bin", filestore.PutOptions{}, transfer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		other, _ := writeFile(t, 6, partSize+100)
		mc := srv.Client(t)
		oi, err := mc.StatObject(ctx, st.Bucket(), "bad/minio.bin", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mc.FPutObject(ctx, st.Bucket(), "bad/minio.bin", other, minio.PutObjectOptions{UserMetadata: oi.UserMetadata}); err != nil {
			t.Fatal(err)
		}
		checkCorrupt(t, r, res.Info.Ref("", ""))
	})
}

func checkCorrupt(t *testing.T, r transfer.Remote, ref filestore.Ref) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "got.bin")
	_, err := transfer.Download(context.Background(), r, ref, dst, transfer.Options{})
	var ce *filestore.ChecksumError
	if !errors.As(err, &ce) || ce.Name != ref.Key || !strings.Contains(err.Error(), ref.Key) {
		t.Fatalf("download of a corrupted object: %v, want a ChecksumError naming %q", err, ref.Key)
	}
	t.Log(err)
	for _, p := range []string{dst, dst + transfer.PartialSuffix} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists after a failed verification", p)
		}
	}
	// The streaming path checks the same digest, at the end of the stream.
	var sink countingWriter
	_, err = transfer.Fetch(context.Background(), r, ref, &sink, transfer.Options{})
	if !errors.As(err, &ce) || ce.Name != ref.Key {
		t.Fatalf("fetch of a corrupted object: %v, want a ChecksumError naming %q", err, ref.Key)
	}
	if sink.n != ref.Size {
		t.Errorf("fetch wrote %d bytes before reporting the mismatch, want all %d", sink.n, ref.Size)
	}
}

// countingWriter counts and discards what is written to it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func TestRefusesBadReferences(t *testing.T) {
	r := relay(t, openLocal(t), filehttp.ModeDirect)
	dst := filepath.Join(t.TempDir(), "x")
	for _, tt := range []struct {
		key  string
		want error
	}{{"../../etc/passwd", filestore.ErrInvalidKey}, {"/abs", filestore.ErrInvalidKey}, {"no/such/object", filestore.ErrNotFound}} {
		_, err := transfer.Download(context.Background(), r, filestore.Ref{Key: tt.key, SHA256: strings.Repeat("0", 64)}, dst, transfer.Options{Attempts: 1})
		if !errors.Is(err, tt.want) {
			t.Errorf("Download(%q): %v, want %v", tt.key, err, tt.want)
		}
	}
}
