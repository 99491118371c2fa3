package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/medrelay/medrelay/filestore"
)

// UploadResult says what an upload did.
type UploadResult struct {
	Info         filestore.Info
	PartsSent    int  // parts uploaded by this call
	PartsSkipped int  // parts found already uploaded
	Resumed      bool // an earlier upload was continued
}

// Upload sends the file at path to key in parts and completes it. meta
// is stored with the object; its SHA256 and Size are computed here. With
// opts.StateDir set, an upload cut short (error, cancelled context, crash)
// resumes on the next call with the same path and key, sending only the
// parts the remote does not have.
func Upload(ctx context.Context, r Remote, path, key string, meta filestore.PutOptions, opts Options) (UploadResult, error) {
	var res UploadResult
	opts = opts.withDefaults()
	if err := filestore.ValidateKey(key); err != nil {
		return res, fmt.Errorf("upload %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return res, fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("upload: %w", err)
	}
	abs, _ := filepath.Abs(path)
	want := uploadState{Path: abs, Size: fi.Size(), ModTime: fi.ModTime(), Key: key}
	var file string
	if opts.StateDir != "" {
		file = stateFile(opts.StateDir, abs, want.Size, want.ModTime, key)
	}
	st, done, err := resume(ctx, r, file, want)
	if err != nil {
		return res, fmt.Errorf("upload %s: %w", path, err)
	}
	if st == nil {
		if st, err = start(ctx, r, f, want, meta, opts); err != nil {
			return res, fmt.Errorf("upload %s: %w", path, err)
		}
		if err := st.save(file); err != nil {
			return res, fmt.Errorf("upload %s: %w", path, err)
		}
	} else {
		res.Resumed = true
	}
	u := &uploader{r: r, f: f, st: st, file: file, opts: opts, done: done}
	if err := u.run(ctx, &res); err != nil {
		return res, fmt.Errorf("upload %s to %q: %w", path, key, err)
	}
	in, err := r.CompleteUpload(ctx, key, st.UploadID, u.sortedParts())
	if err != nil {
		return res, fmt.Errorf("upload %s to %q: %w", path, key, err)
	}
	if in.SHA256 != "" && in.SHA256 != st.SHA256 {
		return res, fmt.Errorf("upload %s: %w", path, &filestore.ChecksumError{Name: key, Want: st.SHA256, Got: in.SHA256})
	}
	if file != "" {
		os.Remove(file)
	}
	res.Info = in
	return res, nil
}

// resume loads saved state and asks the remote which parts it holds.
// It returns nil state when there is nothing to resume.
func resume(ctx context.Context, r Remote, file string, want uploadState) (*uploadState, map[int]filestore.Part, error) {
	if file == "" {
		return nil, nil, nil
	}
	st, err := loadState(file, want)
	if err != nil || st == nil {
		return nil, nil, err
	}
	parts, err := r.ListParts(ctx, st.Key, st.UploadID)
	if errors.Is(err, filestore.ErrNotFound) {
		return nil, nil, nil // the upload expired or was aborted: start over
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list uploaded parts: %w", err)
	}
	done := map[int]filestore.Part{}
	for _, p := range parts {
		if p.Size == partLen(st.Size, st.PartSize, p.Number) {
			done[p.Number] = p
		}
	}
	return st, done, nil
}

// start hashes the file and creates the upload.
func start(ctx context.Context, r Remote, f *os.File, st uploadState, meta filestore.PutOptions, opts Options) (*uploadState, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size)); err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	st.SHA256 = hex.EncodeToString(h.Sum(nil))
	st.PartSize = partSizeFor(st.Size, opts.PartSize)
	meta.SHA256, meta.Size = st.SHA256, st.Size
	id, err := r.CreateUpload(ctx, st.Key, meta)
	if err != nil {
		return nil, err
	}
	st.UploadID = id
	return &st, nil
}

func partCount(size, partSize int64) int {
	if size == 0 {
		return 1 // an empty object is one empty part
	}
	return int((size-1)/partSize + 1) // not (size+partSize-1)/partSize: no overflow
}

func partLen(size, partSize int64, n int) int64 {
	off := int64(n-1) * partSize
	return min(partSize, size-off)
}

// uploader sends the missing parts of one upload.
type uploader struct {
	r    Remote
	f    *os.File
	st   *uploadState
	file string
	opts Options

	mu   sync.Mutex
	done map[int]filestore.Part
}

func (u *uploader) run(ctx context.Context, res *UploadResult) error {
	if u.done == nil {
		u.done = map[int]filestore.Part{}
	}
	n := partCount(u.st.Size, u.st.PartSize)
	var todo []int
	var doneBytes int64
	for i := 1; i <= n; i++ {
		if p, ok := u.done[i]; ok {
			res.PartsSkipped++
			doneBytes += p.Size
		} else {
			todo = append(todo, i)
		}
	}
	prog := newProgress(u.opts.Progress, u.st.Size, doneBytes)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errc := make(chan error, u.opts.Concurrency)
	var wg sync.WaitGroup
	for range min(u.opts.Concurrency, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				if err := u.send(ctx, n, prog); err != nil {
					errc <- err
					cancel()
					return
				}
			}
		}()
	}
	var sent int
feed:
	for _, n := range todo {
		select {
		case jobs <- n:
			sent++
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	prog.final()
	u.mu.Lock()
	res.PartsSent = len(u.done) - res.PartsSkipped
	u.mu.Unlock()
	select {
	case err := <-errc:
		return err
	default:
	}
	if sent < len(todo) {
		return ctx.Err()
	}
	return nil
}

// send uploads part n, with retries, and records it.
func (u *uploader) send(ctx context.Context, n int, prog *progress) error {
	off := int64(n-1) * u.st.PartSize
	size := partLen(u.st.Size, u.st.PartSize, n)
	var p filestore.Part
	err := retry(ctx, u.opts, func() error {
		cr := &countingReader{r: io.NewSectionReader(u.f, off, size), p: prog}
		var err error
		p, err = u.r.UploadPart(ctx, u.st.Key, u.st.UploadID, n, cr, size)
		if err != nil {
			prog.add(-cr.n) // those bytes will be sent again
		}
		return err
	})
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done[n] = p
	u.st.Parts = u.sortedPartsLocked()
	return u.st.save(u.file)
}

func (u *uploader) sortedParts() []filestore.Part {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sortedPartsLocked()
}

func (u *uploader) sortedPartsLocked() []filestore.Part {
	parts := make([]filestore.Part, 0, len(u.done))
	for _, p := range u.done {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts
}
