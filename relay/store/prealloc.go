package store

import (
	"fmt"
	"os"
)

// Preallocation keeps written zeros ahead of the pages bbolt will use.
// bbolt grows its file by truncating, which leaves holes; a commit that
// writes into a hole makes the file system allocate blocks, and its fsync
// then waits for a journal commit that every process on the disk shares.
// Writing into blocks that already exist needs no journal commit, so
// commits stay short and relays on one disk do not queue behind each other.
const (
	preallocChunk    = 16 << 20
	preallocHeadroom = 8 << 20
)

type preallocator struct {
	f        *os.File
	zeroedTo int64
	zeros    []byte
}

func newPreallocator(path string) (*preallocator, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open for preallocation: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	// Blocks below the allocated size hold data or zeros already.
	allocated := fi.Size()
	if st, ok := blocksOf(fi); ok && st < allocated {
		allocated = st
	}
	return &preallocator{f: f, zeroedTo: allocated}, nil
}

// ensure writes zeros so that at least headroom bytes past used are
// allocated. It runs in the writer goroutine, between commits, where bbolt
// writes nothing: the pages past used are free, so overwriting them with
// zeros is safe.
func (p *preallocator) ensure(used int64) error {
	if p.zeroedTo < used {
		p.zeroedTo = used
	}
	if p.zeroedTo-used >= preallocHeadroom {
		return nil
	}
	if p.zeros == nil {
		p.zeros = make([]byte, 1<<20)
	}
	end := p.zeroedTo + preallocChunk
	for off := p.zeroedTo; off < end; off += int64(len(p.zeros)) {
		if _, err := p.f.WriteAt(p.zeros, off); err != nil {
			return fmt.Errorf("preallocate: %w", err)
		}
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("preallocate: %w", err)
	}
	p.zeroedTo = end
	return nil
}

func (p *preallocator) close() error { return p.f.Close() }
