package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom/dicomgen"
)

// BenchmarkGatewayStudy measures issue 9's speed target: a study of 1,000
// instances of 0.5 MB from storescu through gateway A (route with
// complete_on_release: true), MinIO (direct) and gateway B to storescp,
// against storescu straight to storescp in the same run. Run it with
//
//	go test ./tests/ -run '^$' -bench BenchmarkGatewayStudy -benchtime 1x -timeout 20m
//
// The gateway time runs from storescu's start to the last file the
// viewer wrote (its newest modification time); the direct time is
// storescu's run. It reports both, their ratio (the target is at most
// 2.5), the gateway path's MB/s (the target is at least 100) and each
// gateway's peak RSS (VmHWM from /proc). Both storescp write without
// fsync; the gateways fsync every step.
func BenchmarkGatewayStudy(b *testing.B) {
	benchGateway(b, dicomgen.Options{Instances: 1000, Series: 4, InstanceBytes: 512 << 10, Mixed: true, MultiFrame: 2, JPEG: 2})
}

// BenchmarkGatewayLargeStudy sends a 2 GB study (40 instances of 50 MB)
// the same way, for issue 9's memory target: every gateway's peak RSS
// under 200 MB. It needs about 12 GB of free disk.
func BenchmarkGatewayLargeStudy(b *testing.B) {
	benchGateway(b, dicomgen.Options{Instances: 40, Series: 2, InstanceBytes: 50 << 20, Mixed: true, MultiFrame: 2})
}

func benchGateway(b *testing.B, o dicomgen.Options) {
	gwNeed(b, "storescu", "storescp")
	// stable_after is long so that only the release completes the study,
	// however the machine's load stretches a pause between instances.
	n := startGwNet(b, gwNetOptions{storage: storageMinIODirect, completeOnRelease: true, stableAfter: "5m"})
	direct := newViewer(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		study, dir := genStudyDir(b, o)
		want := expectedSums(b, study)
		mb := float64(study.Bytes()) / 1e6
		b.StartTimer()

		t0 := time.Now()
		mustStorescu(b, fmt.Sprintf("127.0.0.1:%d", direct.Port), aetViewer, dir)
		directTime := time.Since(t0)

		t0 = time.Now()
		mustStorescu(b, n.a.DICOM, aetRouteB, dir)
		sent := time.Since(t0)
		// The receipt follows gateway B's last C-STORE response, so every
		// file at the viewer is complete once it is acknowledged.
		out, in := acknowledged(b, n.a, n.b, study.StudyUID, nil)
		gwTime := newestFile(b, n.viewer.Dir).Sub(t0)
		b.StopTimer()
		checkReceipt(b, out, in, len(want), len(want), 0)
		if d := checkArrived(b, n.viewer, want); d != 0 {
			b.Errorf("%d duplicates at the viewer", d)
		}
		ratio := gwTime.Seconds() / directTime.Seconds()
		rssA, rssB := n.a.PeakRSS(), n.b.PeakRSS()
		b.ReportMetric(directTime.Seconds(), "direct-s")
		b.ReportMetric(gwTime.Seconds(), "gateway-s")
		b.ReportMetric(ratio, "ratio")
		b.ReportMetric(mb/gwTime.Seconds(), "gateway-MB/s")
		b.ReportMetric(float64(rssA)/(1<<20), "rssA-MiB")
		b.ReportMetric(float64(rssB)/(1<<20), "rssB-MiB")
		b.Logf("%d instances, %.0f MB: direct %v (%.0f MB/s); gateway %v (%.0f MB/s; storescu done after %v); ratio %.2f; peak RSS gateway A %d MiB, gateway B %d MiB",
			len(want), mb, directTime.Round(time.Millisecond), mb/directTime.Seconds(), gwTime.Round(time.Millisecond),
			mb/gwTime.Seconds(), sent.Round(time.Millisecond), ratio, rssA>>20, rssB>>20)
		b.Logf("gateway A's log ends:\n%s\ngateway B's log ends:\n%s", tail(n.a.Log(), 8), tail(n.b.Log(), 8))
		os.RemoveAll(dir)
		os.RemoveAll(direct.Dir)
		os.MkdirAll(direct.Dir, 0o755)
	}
}

// newestFile returns the newest modification time under dir.
func newestFile(t testing.TB, dir string) time.Time {
	t.Helper()
	var newest time.Time
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil && info.ModTime().After(newest) {
				newest = info.ModTime()
			}
		}
		return nil
	})
	return newest
}
