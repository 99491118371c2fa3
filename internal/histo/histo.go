// Package histo counts observations into fixed buckets, cheaply and
// without locks, for packages that expose latency and size distributions
// as snapshots. It knows nothing of any metrics format: the server edge
// turns a Snapshot into whatever it exports.
package histo

import (
	"math"
	"sync/atomic"
)

// Histogram counts observations at or below each bound. The zero value
// is not usable: make one with New.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // one per bound, plus one for +Inf
	sumBit atomic.Uint64   // float64 bits of the sum
}

// New returns a histogram with the given upper bounds, in increasing order.
func New(bounds ...float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBit.Load()
		if h.sumBit.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Snapshot is a histogram's state at one moment.
type Snapshot struct {
	Count uint64
	Sum   float64
	// Buckets maps each upper bound to the number of observations at or
	// below it (cumulative, as Prometheus counts them).
	Buckets map[float64]uint64
}

// Snapshot returns the counts so far.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Buckets: make(map[float64]uint64, len(h.bounds)), Sum: math.Float64frombits(h.sumBit.Load())}
	for i, b := range h.bounds {
		s.Count += h.counts[i].Load()
		s.Buckets[b] = s.Count
	}
	s.Count += h.counts[len(h.bounds)].Load()
	return s
}

// Seconds are bounds for latencies from 50 µs to 5 s.
var Seconds = []float64{50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 200e-3, 500e-3, 1, 2, 5}

// Sizes are bounds for group sizes from 1 to 4096.
var Sizes = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}
