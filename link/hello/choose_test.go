package hello

import (
	"strings"
	"testing"
)

func offer(prefer string, names ...string) *Hello {
	h := &Hello{ID: "main", Prefer: prefer}
	for _, n := range names {
		h.Transports = append(h.Transports, Transport{Name: n, Addr: n + ":1"})
	}
	return h
}

// attempts returns the transports of n attempts that all fail.
func attempts(c *Chooser, h *Hello, n int) string {
	var got []string
	for i := 0; i < n; i++ {
		t, err := c.Choose(h)
		if err != nil {
			got = append(got, "error")
			continue
		}
		got = append(got, t.Name)
		c.Failed(h)
	}
	return strings.Join(got, ",")
}

func TestChooserFallsBackInOrderAndWraps(t *testing.T) {
	tests := []struct {
		name string
		c    Chooser
		h    *Hello
		want string
	}{
		{"prefer quic", Chooser{Pin: "auto", MaxFailures: 2}, offer("quic", "http", "tcp", "quic"),
			"quic,quic,tcp,tcp,http,http,quic"},
		{"prefer http", Chooser{MaxFailures: 1}, offer("http", "http", "tcp", "quic"),
			"http,quic,tcp,http"},
		{"only what is offered", Chooser{MaxFailures: 1}, offer("tcp", "tcp", "http"),
			"tcp,http,tcp"},
		{"pinned never falls back", Chooser{Pin: "tcp", MaxFailures: 1}, offer("quic", "quic", "tcp"),
			"tcp,tcp,tcp"},
		{"pinned to what is not offered", Chooser{Pin: "quic"}, offer("tcp", "tcp"),
			"error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := strings.Count(tt.want, ",") + 1
			if got := attempts(&tt.c, tt.h, n); got != tt.want {
				t.Errorf("attempts = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestChooserSuccessResetsTheCountAndResetReturnsToPreferred(t *testing.T) {
	h := offer("quic", "quic", "tcp")
	c := &Chooser{MaxFailures: 2}
	c.Choose(h)
	c.Failed(h)
	c.Connected() // one failure, then a success: no fallback
	c.Failed(h)
	if tr, _ := c.Choose(h); tr.Name != "quic" {
		t.Fatalf("after a success and one failure: %s, want quic", tr.Name)
	}
	c.Failed(h)
	if tr, _ := c.Choose(h); tr.Name != "tcp" || c.OnPreferred(h) {
		t.Fatalf("after two failures in a row: %s (on preferred %v), want tcp", tr.Name, c.OnPreferred(h))
	}
	c.Reset()
	if tr, _ := c.Choose(h); tr.Name != "quic" || !c.OnPreferred(h) {
		t.Fatalf("after Reset: %s, want quic", tr.Name)
	}
}
