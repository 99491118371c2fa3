// Package transfer moves local files to and from a filestore in a way
// that survives crashes and cut links: uploads go in parts and remember
// which parts are done in a state directory, so a restart sends only the
// missing parts; downloads write a ".partial" file and resume from its
// last byte; every download is verified against its SHA-256.
//
// The remote side is the small Remote interface, which a filestore.Store
// satisfies directly and a filehttp.Client satisfies over a relay (proxy
// or direct mode). Progress is reported through a callback; the progress
// package renders it.
package transfer

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

// Remote is what a transfer needs from where the files live.
type Remote interface {
	CreateUpload(ctx context.Context, key string, opts filestore.PutOptions) (uploadID string, err error)
	UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (filestore.Part, error)
	ListParts(ctx context.Context, key, uploadID string) ([]filestore.Part, error)
	CompleteUpload(ctx context.Context, key, uploadID string, parts []filestore.Part) (filestore.Info, error)
	Get(ctx context.Context, key string, offset int64) (io.ReadCloser, filestore.Info, error)
}

// ProgressFunc receives the bytes done and the total. It may be called
// from several goroutines, but never concurrently.
type ProgressFunc func(done, total int64)

// DefaultPartSize is the upload part size when none is set.
const DefaultPartSize = 16 << 20

// Options configures uploads and downloads. The zero value works.
type Options struct {
	// PartSize is the size of upload parts. Default DefaultPartSize; at
	// least filestore.MinPartSize; raised when a file would need more than
	// filestore.MaxParts parts.
	PartSize int64
	// Concurrency is the number of parts uploaded at once. Default 4.
	Concurrency int
	// StateDir keeps upload progress (one JSON file per upload) so a
	// restarted upload resumes. Default "": no resume across restarts.
	StateDir string
	// Attempts is how many times a part or a download is tried before the
	// call fails (a download resumes from where it stopped). Default 3.
	Attempts int
	// RetryDelay is the pause before the second attempt; it doubles for
	// each further one. Default 500ms.
	RetryDelay time.Duration
	// Progress receives bytes done and total. Default: none.
	Progress ProgressFunc
}

func (o Options) withDefaults() Options {
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < filestore.MinPartSize {
		o.PartSize = filestore.MinPartSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = 500 * time.Millisecond
	}
	return o
}

// partSizeFor raises the part size so that size fits in MaxParts parts.
func partSizeFor(size, want int64) int64 {
	for (size+want-1)/want > filestore.MaxParts {
		want *= 2
	}
	return want
}

// retry runs fn up to attempts times, sleeping between attempts, and
// stops at once on errors that another attempt cannot fix.
func retry(ctx context.Context, o Options, fn func() error) error {
	delay := o.RetryDelay
	var err error
	for i := 0; i < o.Attempts; i++ {
		if err = fn(); err == nil || permanent(err) || ctx.Err() != nil {
			return err
		}
		if i+1 < o.Attempts {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(delay):
			}
			delay *= 2
		}
	}
	return err
}

func permanent(err error) bool {
	for _, e := range []error{filestore.ErrInvalidKey, filestore.ErrChecksumMismatch, filestore.ErrNotFound,
		filestore.ErrInvalidOptions, filestore.ErrInvalidPart, filestore.ErrUnsupported} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// progress serialises a ProgressFunc and counts bytes.
type progress struct {
	fn    ProgressFunc
	total int64
	done  atomic.Int64
	mu    chan struct{} // a one-slot lock that never blocks a mover for long
}

func newProgress(fn ProgressFunc, total, done int64) *progress {
	p := &progress{fn: fn, total: total, mu: make(chan struct{}, 1)}
	p.done.Store(done)
	p.report()
	return p
}

func (p *progress) add(n int64) {
	p.done.Add(n)
	p.report()
}

func (p *progress) report() {
	if p.fn == nil {
		return
	}
	select {
	case p.mu <- struct{}{}:
		p.fn(p.done.Load(), p.total)
		<-p.mu
	default: // someone is reporting; the next call catches up
	}
}

// final reports the last figures even if a report was skipped.
func (p *progress) final() {
	if p.fn != nil {
		p.mu <- struct{}{}
		p.fn(p.done.Load(), p.total)
		<-p.mu
	}
}

// countingReader reports bytes read.
type countingReader struct {
	r io.Reader
	p *progress
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.p.add(int64(n))
	return n, err
}
