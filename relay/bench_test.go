package relay_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/relay"
)

// BenchmarkSendOneHop measures one sender's Send through one relay, which
// stores each envelope (fsync) before acknowledging it.
func BenchmarkSendOneHop(b *testing.B) {
	dir := b.TempDir()
	r := startRelay(b, "main", "", filepath.Join(dir, "main"))
	c := dial(b, r, "tx", false)
	body := make([]byte, 1024)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Send(context.Background(), "main/rx", "bench", nil, body); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := r.Status()
	b.ReportMetric(float64(st.Commits)/float64(b.N), "commits/op")
	cs := r.StoreStats()
	b.ReportMetric(float64(cs.TotalLatency.Microseconds())/float64(cs.Commits), "µs/commit")
}

// BenchmarkForwardTwoCounties sends from 64 senders at county-a to a
// receiver at county-b, through main: three relays, each fsyncing.
func BenchmarkForwardTwoCounties(b *testing.B) {
	dir := b.TempDir()
	m := startRelay(b, "main", "", filepath.Join(dir, "main"))
	a := startRelay(b, "county-a", m.URL(), filepath.Join(dir, "a"))
	bb := startRelay(b, "county-b", m.URL(), filepath.Join(dir, "b"))
	waitFor(b, "linked", func() bool { return len(m.Status().Children) == 2 })
	got := make(chan struct{}, 1024)
	rx := dial(b, bb, "rx", true)
	rx.Handle("", func(context.Context, *client.Envelope) error { got <- struct{}{}; return nil })
	senders := 64
	if s := os.Getenv("BENCH_SENDERS"); s != "" {
		senders, _ = strconv.Atoi(s)
	}
	cs := make([]*client.Client, senders)
	for i := range cs {
		cs[i] = dial(b, a, fmt.Sprintf("tx%d", i), false)
	}
	body := make([]byte, 1024)
	b.ResetTimer()
	var next atomic.Int64
	for _, c := range cs {
		go func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := c.Send(context.Background(), "county-b/rx", "bench", nil, body); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		<-got
	}
	b.StopTimer()
	for _, r := range []*relay.Relay{a, m, bb} {
		cs := r.StoreStats()
		b.ReportMetric(float64(cs.Submissions)/float64(cs.Commits), r.ID()+"-subs/commit")
		b.ReportMetric(float64(cs.TotalLatency.Microseconds())/float64(cs.Commits), r.ID()+"-µs/commit")
	}
}
