package worklist_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkCreateFanout creates workitems over HTTP (4 clients at once)
// with N global subscribers connected over WebSocket, and reports
// creations/s (every event delivered to every subscriber) and the p50 and
// p99 latency from the create request to each subscriber's event.
func BenchmarkCreateFanout(b *testing.B) {
	for _, subs := range []int{10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) { benchFanout(b, subs) })
	}
}

func benchFanout(b *testing.B, subs int) {
	srv := startServer(b)
	sent := make([]time.Time, b.N)
	var lmu sync.Mutex
	var lat []time.Duration
	var done sync.WaitGroup
	for i := range subs {
		ae := fmt.Sprintf("EXPERT%d", i)
		srv.must(http.StatusCreated, "POST", global+ae, "")
		l := srv.listen(ae)
		done.Add(1)
		go func() {
			defer done.Done()
			for range b.N {
				ev := l.next()
				var n int
				fmt.Sscanf(attr(ev, "00001000"), "1.2.77.%d", &n)
				d := time.Since(sent[n])
				lmu.Lock()
				lat = append(lat, d)
				lmu.Unlock()
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				sent[i] = time.Now()
				srv.must(http.StatusCreated, "POST", fmt.Sprintf("/workitems?1.2.77.%d", i), workitemJSON("bench"))
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	done.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/el.Seconds(), "creates/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
