package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
)

type benchConfig struct {
	relay, toRelay string
	relays         string // --relays: whose CPU to read
	n, size        int
	senders        int
	rate           float64
	timeout        time.Duration
	conn           *connFlags
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	var bc benchConfig
	bc.conn = addConnFlags(fs)
	fs.StringVar(&bc.relay, "relay", "", "URL of the relay the senders attach to")
	fs.StringVar(&bc.toRelay, "to-relay", "", "URL of the relay the receiver attaches to")
	fs.IntVar(&bc.n, "n", 10000, "number of envelopes")
	fs.IntVar(&bc.size, "size", 1024, "body size in bytes")
	fs.IntVar(&bc.senders, "senders", 1, "concurrent senders, each its own connection")
	fs.Float64Var(&bc.rate, "rate", 0, "envelopes per second in all (0: as fast as possible)")
	fs.StringVar(&bc.relays, "relays", "", "comma-separated URLs of the relays whose CPU to read (default: --relay and --to-relay)")
	fs.DurationVar(&bc.timeout, "timeout", 10*time.Minute, "give up after this long")
	if err := parse(fs, args, "relay", "to-relay"); err != nil {
		return err
	}
	if err := bc.conn.check(); err != nil {
		return err
	}
	switch {
	case bc.n <= 0:
		return fmt.Errorf("%w: --n must be positive", errUsage)
	case bc.size < 0:
		return fmt.Errorf("%w: --size must not be negative", errUsage)
	case bc.senders <= 0:
		return fmt.Errorf("%w: --senders must be positive", errUsage)
	case bc.rate < 0:
		return fmt.Errorf("%w: --rate must not be negative", errUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, bc.timeout)
	defer cancel()
	relays := benchRelays(bc.relays, bc.relay, bc.toRelay)
	if bc.relays != "" && len(relays) == 0 {
		return fmt.Errorf("%w: --relays %q names no relay: give URLs separated by commas", errUsage, bc.relays)
	}
	// Without the relays' CPU (an older relay, no admin token) the bench
	// still runs: it says why on stderr and leaves the cpu line out.
	before, cpuErr := sampleCPU(ctx, bc.conn, relays)
	res, err := bench(ctx, bc, stderr)
	if err != nil {
		return err
	}
	var after cpuSample
	if cpuErr == nil {
		after, cpuErr = sampleCPU(ctx, bc.conn, relays)
	}
	res.print(stdout, bc)
	if cpuErr != nil {
		fmt.Fprintf(stderr, "cpu: not measured: %v\n", cpuErr)
		return nil
	}
	printCPU(stdout, relays, before, after, bc.n)
	return nil
}

type benchResult struct {
	from, to  string
	sendTime  time.Duration // first send to last durable acceptance
	total     time.Duration // first send to last receipt
	latencies []time.Duration
}

func bench(ctx context.Context, bc benchConfig, stderr io.Writer) (*benchResult, error) {
	run := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1_000_000)
	lat := make([]time.Duration, 0, bc.n)
	var mu sync.Mutex
	done := make(chan struct{})
	rx, err := client.Dial(ctx, bc.conn.apply(client.Options{Relay: bc.toRelay, ID: run + "-rx", Receive: true}))
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	defer rx.Close()
	var lastRecv time.Time
	rx.Handle("bench", func(_ context.Context, e *client.Envelope) error {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		lat = append(lat, now.Sub(e.CreatedAt.AsTime()))
		if len(lat) == bc.n {
			lastRecv = now
			close(done)
		}
		return nil
	})
	senders := make([]*client.Client, bc.senders)
	for i := range senders {
		c, err := client.Dial(ctx, bc.conn.apply(client.Options{Relay: bc.relay, ID: fmt.Sprintf("%s-s%d", run, i)}))
		if err != nil {
			return nil, fmt.Errorf("sender %d: %w", i, err)
		}
		defer c.Close()
		senders[i] = c
	}
	body := make([]byte, bc.size)
	rand.Read(body)
	target := rx.Relay() + "/" + run + "-rx"
	fmt.Fprintf(stderr, "sending %d envelopes of %d bytes from %d senders at %s to %s\n", bc.n, bc.size, bc.senders, senders[0].Relay(), target)

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, bc.senders)
	for _, c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(bc.n) {
					return
				}
				if bc.rate > 0 {
					at := start.Add(time.Duration(float64(i) / bc.rate * float64(time.Second)))
					time.Sleep(time.Until(at))
				}
				if _, err := c.Send(ctx, target, "bench", nil, body); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	sendTime := time.Since(start)
	select {
	case err := <-errs:
		return nil, fmt.Errorf("send: %w", err)
	default:
	}
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		got := len(lat)
		mu.Unlock()
		return nil, fmt.Errorf("received %d of %d envelopes before giving up: %w", got, bc.n, ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	return &benchResult{from: senders[0].Relay(), to: rx.Relay(), sendTime: sendTime, total: lastRecv.Sub(start), latencies: slices.Clone(lat)}, nil
}

func (r *benchResult) print(w io.Writer, bc benchConfig) {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	mode := "as fast as possible"
	if bc.rate > 0 {
		mode = fmt.Sprintf("paced at %.0f/s", bc.rate)
	}
	fmt.Fprintf(w, "envelopes: %d x %d bytes, %d senders at %s -> receiver at %s, %s\n", bc.n, bc.size, bc.senders, r.from, r.to, mode)
	fmt.Fprintf(w, "accepted:  %.0f envelopes/s (all stored by %s in %v)\n", float64(bc.n)/r.sendTime.Seconds(), r.from, r.sendTime.Round(time.Millisecond))
	fmt.Fprintf(w, "delivered: %.0f envelopes/s (all received in %v)\n", float64(bc.n)/r.total.Seconds(), r.total.Round(time.Millisecond))
	fmt.Fprintf(w, "latency:   p50 %v  p99 %v  max %v (one way, send to handler)\n",
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), r.latencies[len(r.latencies)-1].Round(10*time.Microsecond))
}
