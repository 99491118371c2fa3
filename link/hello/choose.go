package hello

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/medrelay/medrelay/link"
)

// FallbackOrder is the order a dialer falls back in after repeated failures.
var FallbackOrder = []string{"quic", "tcp", "http"}

// DefaultMaxFailures is how many failures in a row make a dialer fall back.
const DefaultMaxFailures = 3

// Chooser picks the transport of each connection attempt: the pin, or
// else the relay's preferred one; after MaxFailures failures in a row,
// the next one the relay offers in FallbackOrder (wrapping around). A
// Chooser is used by one goroutine.
type Chooser struct {
	// Pin is "auto" (or empty) or a transport name.
	Pin string
	// MaxFailures before falling back (default DefaultMaxFailures).
	MaxFailures int

	cur   string
	fails int
}

// Pinned reports whether the chooser never falls back.
func (c *Chooser) Pinned() bool { return c.Pin != "" && c.Pin != "auto" }

// Choose returns the transport for the next attempt.
func (c *Chooser) Choose(h *Hello) (Transport, error) {
	if c.Pinned() {
		return h.Choose(c.Pin)
	}
	order := c.order(h)
	if len(order) == 0 {
		return Transport{}, fmt.Errorf("%w: relay %s offers none", ErrNoTransport, h.ID)
	}
	if !slices.Contains(order, c.cur) {
		c.cur, c.fails = order[0], 0
	}
	return h.Choose(c.cur)
}

// order is the preferred transport, then the others in FallbackOrder.
func (c *Chooser) order(h *Hello) []string {
	var out []string
	if h.offers(h.Prefer) {
		out = append(out, h.Prefer)
	}
	for _, n := range FallbackOrder {
		if n != h.Prefer && h.offers(n) {
			out = append(out, n)
		}
	}
	for _, t := range h.Transports {
		if !slices.Contains(out, t.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

// Failed records a failed attempt; enough in a row move to the next transport.
func (c *Chooser) Failed(h *Hello) {
	if c.Pinned() || h == nil {
		return
	}
	c.fails++
	max := c.MaxFailures
	if max <= 0 {
		max = DefaultMaxFailures
	}
	if c.fails < max {
		return
	}
	order := c.order(h)
	i := slices.Index(order, c.cur)
	if len(order) > 0 {
		c.cur = order[(i+1)%len(order)]
	}
	c.fails = 0
}

// Connected records a successful attempt.
func (c *Chooser) Connected() { c.fails = 0 }

// OnPreferred reports whether the current transport is the relay's preferred one.
func (c *Chooser) OnPreferred(h *Hello) bool {
	return c.Pinned() || !h.offers(h.Prefer) || c.cur == h.Prefer
}

// Reset makes the next attempt use the preferred transport.
func (c *Chooser) Reset() { c.cur, c.fails = "", 0 }

func (h *Hello) offers(name string) bool {
	for _, t := range h.Transports {
		if t.Name == name {
			return true
		}
	}
	return false
}

// ReturnToPreferred runs until l ends or ctx is done: every interval it
// probes the relay's preferred transport and, once it answers, closes l
// so that the next connection (after c.Reset) uses it.
func ReturnToPreferred(ctx context.Context, l link.Link, h *Hello, base string, o DialOptions, every time.Duration, onReturn func()) {
	pref, err := h.Choose("")
	if err != nil || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.Done():
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := Probe(pctx, base, pref, o)
		cancel()
		if err == nil {
			onReturn()
			l.Close("returning to the preferred transport " + pref.Name)
			return
		}
	}
}
