package relay

import "sync"

// inFlight records which entries of each queue a pump has sent and not
// yet settled, as ranges of sequence numbers (a pump sends a queue's
// entries in order, a few batches at a time). The expiry loop leaves them
// alone: an envelope on its way must not also be reported EXPIRED. A pump
// registers a batch before it checks the batch's expiry itself, so that
// one of the two always sees the other.
type inFlight struct {
	mu     sync.Mutex
	ranges map[Queue][][2]uint64
}

func (f *inFlight) add(q Queue, lo, hi uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ranges == nil {
		f.ranges = make(map[Queue][][2]uint64)
	}
	f.ranges[q] = append(f.ranges[q], [2]uint64{lo, hi})
}

func (f *inFlight) remove(q Queue, lo, hi uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.ranges[q]
	for i, r := range rs {
		if r == [2]uint64{lo, hi} {
			rs = append(rs[:i], rs[i+1:]...)
			break
		}
	}
	if len(rs) == 0 {
		delete(f.ranges, q)
	} else {
		f.ranges[q] = rs
	}
}

func (f *inFlight) has(q Queue, seq uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.ranges[q] {
		if r[0] <= seq && seq <= r[1] {
			return true
		}
	}
	return false
}
