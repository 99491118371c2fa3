package dirstore

import (
	"os"
	"sync"
)

// spareFiles is the number of unnamed files kept open ahead of need.
const spareFiles = 2

// spares creates unnamed files in the background, so that creating one
// (a few hundred microseconds on some file systems) overlaps with
// receiving instead of adding to each instance's latency.
type spares struct {
	dir string

	mu     sync.Mutex
	files  []*os.File
	busy   bool // a refill goroutine runs
	closed bool
	wg     sync.WaitGroup
}

// take returns a spare file, or creates one when none is ready, and
// starts a refill.
func (p *spares) take() (*os.File, error) {
	p.mu.Lock()
	var f *os.File
	if n := len(p.files); n > 0 {
		f, p.files = p.files[n-1], p.files[:n-1]
	}
	p.refillLocked()
	p.mu.Unlock()
	if f != nil {
		return f, nil
	}
	return openTmpFile(p.dir)
}

func (p *spares) refillLocked() {
	if p.busy || p.closed || len(p.files) >= spareFiles {
		return
	}
	p.busy = true
	p.wg.Add(1)
	go p.refill()
}

func (p *spares) refill() {
	defer p.wg.Done()
	for {
		f, err := openTmpFile(p.dir)
		p.mu.Lock()
		if err != nil || p.closed {
			p.busy = false
			p.mu.Unlock()
			if f != nil {
				f.Close()
			}
			return
		}
		p.files = append(p.files, f)
		if len(p.files) >= spareFiles {
			p.busy = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// close stops refilling, waits for it, and closes the spare files (they
// have no name, so closing frees them).
func (p *spares) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.files {
		f.Close()
	}
	p.files = nil
}
