package histo

import "testing"

func TestSnapshotIsCumulative(t *testing.T) {
	h := New(1, 10)
	for _, v := range []float64{0.5, 1, 3, 10, 11, 100} {
		h.Observe(v)
	}
	s := h.Snapshot()
	if s.Count != 6 || s.Sum != 125.5 {
		t.Fatalf("count %d sum %g, want 6 and 125.5", s.Count, s.Sum)
	}
	if s.Buckets[1] != 2 || s.Buckets[10] != 4 {
		t.Fatalf("buckets %v, want 1:2 10:4", s.Buckets)
	}
}
