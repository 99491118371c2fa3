package interop

import (
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Benchmark data sets, generated once per run: small (0.5 MB) and large
// (about 50 MB, 100 frames of 512x512x16 bits) images of one study.
// BENCH_SMALL and BENCH_LARGE override the counts (BENCH_LARGE=40 makes
// the 2 GB study).
var (
	benchOnce = map[string]*sync.Once{"small": {}, "large": {}}
	benchDir  = map[string]string{}
)

func benchData(b *testing.B, kind string) (string, int, int64) {
	b.Helper()
	n, frames := envInt("BENCH_SMALL", 1000), 1
	if kind == "large" {
		n, frames = envInt("BENCH_LARGE", 20), 100
	}
	benchOnce[kind].Do(func() {
		dir, err := os.MkdirTemp("", "dicomgw-bench-"+kind)
		if err != nil {
			b.Fatal(err)
		}
		genStudy(b, dir, testRoot+".3"+strconv.Itoa(len(kind)), n, 512, 512, frames)
		benchDir[kind] = dir
	})
	var size int64
	for _, p := range filesUnder(b, benchDir[kind]) {
		if st, err := os.Stat(p); err == nil {
			size += st.Size()
		}
	}
	return benchDir[kind], n, size
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkReceive measures storescu (TCP_NODELAY=1) sending a directory
// to dicomgw scp (fsync before each response; dicomgw-nosync without, for
// reference) and to dcmtk's storescp -od (which never syncs),
// on loopback, and reports the peak RSS of the receiver.
func BenchmarkReceive(b *testing.B) {
	need(b, "storescu", "storescp")
	for _, kind := range []string{"small", "large"} {
		for _, rcv := range []string{"dicomgw", "dicomgw-nosync", "storescp"} {
			b.Run(kind+"/"+rcv, func(b *testing.B) {
				dir, n, size := benchData(b, kind)
				var elapsed time.Duration
				var rss int64
				for i := 0; i < b.N; i++ {
					out, err := os.MkdirTemp("", "dicomgw-bench-out")
					if err != nil {
						b.Fatal(err)
					}
					port := freePort(b)
					var srv *server
					switch rcv {
					case "dicomgw":
						_, srv = startGWPort(b, port, out)
					case "dicomgw-nosync":
						_, srv = startGWPort(b, port, out, "--no-sync")
					default:
						srv = startServer(b, port, "storescp", "-od", out, strconv.Itoa(port))
					}
					start := time.Now()
					mustRun(b, "storescu", "-aec", "GW", "+sd", "127.0.0.1", strconv.Itoa(port), dir)
					elapsed += time.Since(start)
					rss = max(rss, srv.peakRSS())
					srv.stop(b)
					if got := len(filesUnder(b, out)); got != n {
						b.Errorf("%d files received, want %d", got, n)
					}
					os.RemoveAll(out)
				}
				secs := elapsed.Seconds() / float64(b.N)
				b.ReportMetric(float64(n)/secs, "instances/s")
				b.ReportMetric(float64(size)/1e6/secs, "MB/s")
				b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
			})
		}
	}
}

func startGWPort(b *testing.B, port int, dir string, extra ...string) (int, *server) {
	args := append([]string{"scp", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--aet", "GW", "--dir", dir}, extra...)
	return port, startServer(b, port, gwBin, args...)
}

// BenchmarkSend measures dicomgw store and dcmtk's storescu sending the
// same files into storescp --ignore (received, not written).
func BenchmarkSend(b *testing.B) {
	need(b, "storescu", "storescp")
	for _, kind := range []string{"small", "large"} {
		for _, snd := range []string{"dicomgw", "storescu"} {
			b.Run(kind+"/"+snd, func(b *testing.B) {
				dir, n, size := benchData(b, kind)
				port := freePort(b)
				startServer(b, port, "storescp", "--ignore", strconv.Itoa(port))
				p := strconv.Itoa(port)
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if snd == "dicomgw" {
						mustRun(b, gwBin, "store", "--host", "127.0.0.1", "--port", p, dir)
					} else {
						mustRun(b, "storescu", "+sd", "127.0.0.1", p, dir)
					}
				}
				secs := time.Since(start).Seconds() / float64(b.N)
				b.ReportMetric(float64(n)/secs, "instances/s")
				b.ReportMetric(float64(size)/1e6/secs, "MB/s")
			})
		}
	}
}
