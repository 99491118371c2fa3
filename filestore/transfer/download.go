package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/medrelay/medrelay/filestore"
)

// PartialSuffix ends the name of a download in progress.
const PartialSuffix = ".partial"

// copyBufSize is the buffer of one download: memory stays flat whatever
// the file size.
const copyBufSize = 1 << 20

// Download fetches ref into path and verifies it. Bytes go to
// path+".partial", which a later call resumes from its last byte; only a
// verified file is renamed to path. The digest checked is ref.SHA256, or
// the one recorded with the object when the reference has none; a
// mismatch is a *filestore.ChecksumError naming the key, and the partial
// file is removed so the next attempt starts clean.
func Download(ctx context.Context, r Remote, ref filestore.Ref, path string, opts Options) (filestore.Info, error) {
	opts = opts.withDefaults()
	if err := filestore.ValidateKey(ref.Key); err != nil {
		return filestore.Info{}, fmt.Errorf("download: %w", err)
	}
	partial := path + PartialSuffix
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("download %q: %w", ref.Key, err)
	}
	defer f.Close()
	h := sha256.New()
	off, err := io.Copy(h, f) // resume: hash what is already there
	if err != nil {
		return filestore.Info{}, fmt.Errorf("download %q: read %s: %w", ref.Key, partial, err)
	}
	if ref.Size > 0 && off > ref.Size {
		if off, err = restart(f, h); err != nil {
			return filestore.Info{}, fmt.Errorf("download %q: %w", ref.Key, err)
		}
	}
	d := &downloader{r: r, ref: ref, f: f, h: h, off: off}
	var in filestore.Info
	err = retry(ctx, opts, func() error {
		var err error
		in, err = d.fetch(ctx, opts.Progress)
		return err
	})
	if err == nil {
		err = d.verify(in)
	}
	if err != nil {
		if errors.Is(err, filestore.ErrChecksumMismatch) || errors.Is(err, filestore.ErrSizeMismatch) {
			f.Close()
			os.Remove(partial)
		}
		return in, fmt.Errorf("download %q to %s: %w", ref.Key, path, err)
	}
	if err := f.Sync(); err != nil {
		return in, fmt.Errorf("download %q: %w", ref.Key, err)
	}
	if err := os.Rename(partial, path); err != nil {
		return in, fmt.Errorf("download %q: %w", ref.Key, err)
	}
	return in, nil
}

func restart(f *os.File, h hash.Hash) (int64, error) {
	h.Reset()
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	_, err := f.Seek(0, io.SeekStart)
	return 0, err
}

type downloader struct {
	r   Remote
	ref filestore.Ref
	f   *os.File // positioned at off
	h   hash.Hash
	off int64
}

// fetch appends the rest of the object to the partial file.
func (d *downloader) fetch(ctx context.Context, fn ProgressFunc) (filestore.Info, error) {
	rc, in, err := d.r.Get(ctx, d.ref.Key, d.off)
	if err != nil {
		return in, err
	}
	defer rc.Close()
	if err := d.check(in); err != nil {
		return in, err
	}
	prog := newProgress(fn, in.Size, d.off)
	defer prog.final()
	buf := make([]byte, copyBufSize)
	for {
		n, rerr := rc.Read(buf)
		if n > 0 {
			if _, err := d.f.Write(buf[:n]); err != nil {
				return in, err // a local disk problem: retried like the rest
			}
			d.h.Write(buf[:n])
			d.off += int64(n)
			prog.add(int64(n))
		}
		if rerr == io.EOF {
			return in, nil
		}
		if rerr != nil {
			return in, rerr
		}
	}
}

// check compares what the store reports with the reference.
func (d *downloader) check(in filestore.Info) error {
	if d.ref.Size > 0 && in.Size != d.ref.Size {
		return fmt.Errorf("store holds %d bytes, reference says %d: %w", in.Size, d.ref.Size, filestore.ErrSizeMismatch)
	}
	if d.ref.SHA256 != "" && in.SHA256 != "" && in.SHA256 != d.ref.SHA256 {
		return &filestore.ChecksumError{Name: d.ref.Key, Want: d.ref.SHA256, Got: in.SHA256 + " (recorded by the store)"}
	}
	if d.ref.SHA256 == "" && in.SHA256 == "" {
		return fmt.Errorf("file %q has no sha256 to verify: %w", d.ref.Key, filestore.ErrInvalidOptions)
	}
	return nil
}

// verify checks size and digest of the complete partial file.
func (d *downloader) verify(in filestore.Info) error {
	want := d.ref.SHA256
	if want == "" {
		want = in.SHA256
	}
	if d.off != in.Size {
		return fmt.Errorf("file %q: got %d bytes, want %d: %w", d.ref.Key, d.off, in.Size, filestore.ErrSizeMismatch)
	}
	if got := hex.EncodeToString(d.h.Sum(nil)); got != want {
		return &filestore.ChecksumError{Name: d.ref.Key, Want: want, Got: got}
	}
	return nil
}

// Fetch streams ref to w, verifying it. It does not resume; w has
// received every byte by the time a mismatch is reported, so a caller
// writing somewhere it cannot take back should use Download.
func Fetch(ctx context.Context, r Remote, ref filestore.Ref, w io.Writer, opts Options) (filestore.Info, error) {
	if err := filestore.ValidateKey(ref.Key); err != nil {
		return filestore.Info{}, fmt.Errorf("fetch: %w", err)
	}
	rc, in, err := r.Get(ctx, ref.Key, 0)
	if err != nil {
		return in, fmt.Errorf("fetch %q: %w", ref.Key, err)
	}
	defer rc.Close()
	d := &downloader{ref: ref}
	if err := d.check(in); err != nil {
		return in, fmt.Errorf("fetch %q: %w", ref.Key, err)
	}
	want := ref.SHA256
	if want == "" {
		want = in.SHA256
	}
	prog := newProgress(opts.Progress, in.Size, 0)
	defer prog.final()
	hr := filestore.NewHashReader(&countingReader{r: rc, p: prog}, ref.Key, want, in.Size)
	if _, err := io.CopyBuffer(w, hr, make([]byte, copyBufSize)); err != nil {
		return in, fmt.Errorf("fetch %q: %w", ref.Key, err)
	}
	return in, nil
}
