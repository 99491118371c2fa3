package relay

import (
	"sync"
	"sync/atomic"
)

// linkStats counts envelopes and bytes per link and direction, for
// /metrics. A child link is counted by the child's id (peer), the parent
// link with peer "", and clients together by their transport (peer "tcp",
// "quic" or "http"): clients are too many to name.
type linkStats struct{ m sync.Map } // linkKey -> *linkCounters

type linkKey struct{ link, peer string }

type linkCounters struct {
	envIn, bytesIn, envOut, bytesOut atomic.Uint64
}

func (s *linkStats) get(link, peer string) *linkCounters {
	k := linkKey{link, peer}
	if c, ok := s.m.Load(k); ok {
		return c.(*linkCounters)
	}
	c, _ := s.m.LoadOrStore(k, new(linkCounters))
	return c.(*linkCounters)
}

func (c *linkCounters) in(raws [][]byte) {
	c.envIn.Add(uint64(len(raws)))
	c.bytesIn.Add(uint64(totalLen(raws)))
}

func (c *linkCounters) out(raws [][]byte) {
	c.envOut.Add(uint64(len(raws)))
	c.bytesOut.Add(uint64(totalLen(raws)))
}

func totalLen(raws [][]byte) int {
	n := 0
	for _, r := range raws {
		n += len(r)
	}
	return n
}

// each calls fn for every link counted so far.
func (s *linkStats) each(fn func(k linkKey, c *linkCounters)) {
	s.m.Range(func(k, v any) bool {
		fn(k.(linkKey), v.(*linkCounters))
		return true
	})
}
