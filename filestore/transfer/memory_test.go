package transfer_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filestoretest"
	"github.com/medrelay/medrelay/filestore/transfer"
)

// TestMemoryStaysFlat moves a 256 MiB file up and down and checks that
// the bytes allocated by this process (client, relay handler and store
// together) stay far below the file size.
func TestMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 256 MiB")
	}
	const size = 256 << 20
	const limit = 16 << 20 // parts stream from the file; this is slack for HTTP and JSON
	path, sum := writeFile(t, 7, size)
	for _, name := range []string{"local-proxy", "s3-direct"} {
		t.Run(name, func(t *testing.T) {
			r := remotes(t)[name](t)
			dst := filepath.Join(t.TempDir(), "got.bin")
			ctx := context.Background()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res, err := transfer.Upload(ctx, r, path, "mem/big", filestore.PutOptions{}, transfer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := transfer.Download(ctx, r, res.Info.Ref("", ""), dst, transfer.Options{}); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: %d MiB allocated to move 2 x %d MiB", name, alloc>>20, size>>20)
			if alloc > limit {
				t.Errorf("allocated %d MiB for a %d MiB file, want under %d MiB", alloc>>20, size>>20, limit>>20)
			}
			if filestoretest.FileSum(t, dst) != sum {
				t.Error("downloaded file differs")
			}
			os.Remove(dst)
		})
	}
}
