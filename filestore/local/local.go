// Package local is the filestore backend that keeps objects in a
// directory owned by a relay; it is the embedded default.
//
// Every write is atomic: bytes go to a temporary file that is fsynced and
// renamed into place, and metadata lives in a JSON sidecar written the same
// way before the data is renamed. Multipart parts are files too, so an
// upload survives a crash of the relay and resumes. Clients reach a local
// store through the relay's HTTP handler (package filehttp); this package
// never speaks HTTP.
//
// Layout under the root directory:
//
//	objects/<key>                 object bytes
//	meta/<key>.json               sidecar: size, sha256, envelope, expiry
//	uploads/<id>/upload.json      a multipart upload's key and metadata
//	uploads/<id>/<n>.<etag>.part  its parts
//	tmp/                          files being written
package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

var _ filestore.Store = (*Store)(nil)

// Options configures a local Store.
type Options struct {
	// Dir is the root directory; it is created (0o750) when missing.
	// Required.
	Dir string
	// NoSync skips fsync; only for tests on slow disks. Default: false
	// (every object, sidecar and part is fsynced before it is visible).
	NoSync bool
}

// Store keeps objects under a directory. It is safe for concurrent use.
type Store struct {
	dir    string
	noSync bool
}

// Open prepares the directory and returns a Store.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open local filestore: filestore.dir is required")
	}
	for _, sub := range []string{"objects", "meta", "uploads", "tmp"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("open local filestore: filestore.dir %q: %w", opts.Dir, err)
		}
	}
	return &Store{dir: opts.Dir, noSync: opts.NoSync}, nil
}

// Dir returns the root directory.
func (s *Store) Dir() string { return s.dir }

// ObjectPath returns the file holding key's bytes (for tests and tools).
func (s *Store) ObjectPath(key string) string {
	return filepath.Join(s.dir, "objects", filepath.FromSlash(key))
}

func (s *Store) metaPath(key string) string {
	return filepath.Join(s.dir, "meta", filepath.FromSlash(key)+".json")
}

// sidecar is the JSON stored beside every object.
type sidecar struct {
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	EnvelopeID string    `json:"envelope_id,omitempty"`
	MediaType  string    `json:"media_type,omitempty"`
	Expires    time.Time `json:"expires,omitzero"`
	Modified   time.Time `json:"modified"`
}

func (m sidecar) info(key string) filestore.Info {
	return filestore.Info{Key: key, Size: m.Size, SHA256: m.SHA256, EnvelopeID: m.EnvelopeID,
		MediaType: m.MediaType, Expires: m.Expires, Modified: m.Modified}
}

func newSidecar(opts filestore.PutOptions, size int64, sum string) sidecar {
	mt := opts.MediaType
	if mt == "" {
		mt = "application/octet-stream"
	}
	return sidecar{Size: size, SHA256: sum, EnvelopeID: opts.EnvelopeID, MediaType: mt,
		Expires: opts.Expires, Modified: time.Now().UTC()}
}

// Put implements filestore.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts filestore.PutOptions) (filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Info{}, fmt.Errorf("put: %w", err)
	}
	hr := filestore.NewHashReader(ctxReader{ctx, r}, key, opts.SHA256, opts.Size)
	tmp, err := s.writeTemp(hr)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("put %q: %w", key, err)
	}
	m := newSidecar(opts, hr.N(), hr.Sum())
	if err := s.commit(key, tmp, m); err != nil {
		return filestore.Info{}, fmt.Errorf("put %q: %w", key, err)
	}
	return m.info(key), nil
}

// writeTemp copies r into a new synced file under tmp/ and returns its path.
func (s *Store) writeTemp(r io.Reader) (string, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "obj-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if err == nil && !s.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// commit writes the sidecar, then renames tmp into place.
func (s *Store) commit(key, tmp string, m sidecar) error {
	data, _ := json.Marshal(m)
	if err := s.writeFileAtomic(s.metaPath(key), data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write metadata: %w", err)
	}
	dst := s.ObjectPath(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.syncDir(filepath.Dir(dst))
}

func (s *Store) writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp, err := s.writeTemp(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.syncDir(filepath.Dir(path))
}

func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Stat implements filestore.Store.
func (s *Store) Stat(ctx context.Context, key string) (filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Info{}, fmt.Errorf("stat: %w", err)
	}
	m, err := s.readSidecar(key)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	return m.info(key), nil
}

// readSidecar returns the metadata of an existing object; ErrNotFound when
// the object bytes are missing.
func (s *Store) readSidecar(key string) (sidecar, error) {
	var m sidecar
	fi, err := os.Stat(s.ObjectPath(key))
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
		return m, filestore.ErrNotFound
	}
	if err != nil {
		return m, err
	}
	data, err := os.ReadFile(s.metaPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		// Bytes without a sidecar: report what the file system knows.
		return sidecar{Size: fi.Size(), Modified: fi.ModTime().UTC()}, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("read metadata: %w", err)
	}
	return m, nil
}

// Get implements filestore.Store.
func (s *Store) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return nil, filestore.Info{}, fmt.Errorf("get: %w", err)
	}
	m, err := s.readSidecar(key)
	if err != nil {
		return nil, filestore.Info{}, fmt.Errorf("get %q: %w", key, err)
	}
	f, err := os.Open(s.ObjectPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, filestore.Info{}, fmt.Errorf("get %q: %w", key, filestore.ErrNotFound)
	}
	if err != nil {
		return nil, filestore.Info{}, fmt.Errorf("get %q: %w", key, err)
	}
	if offset < 0 || offset > m.Size {
		f.Close()
		return nil, filestore.Info{}, fmt.Errorf("get %q: offset %d outside 0..%d", key, offset, m.Size)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, filestore.Info{}, fmt.Errorf("get %q: %w", key, err)
	}
	return f, m.info(key), nil
}

// Delete implements filestore.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := filestore.ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	for _, p := range []string{s.ObjectPath(key), s.metaPath(key)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %q: %w", key, err)
		}
	}
	return nil
}

// List implements filestore.Store.
func (s *Store) List(ctx context.Context, prefix string, fn func(filestore.Info) error) error {
	root := filepath.Join(s.dir, "objects")
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		m, err := s.readSidecar(key)
		if errors.Is(err, filestore.ErrNotFound) {
			return nil // removed while listing
		}
		if err != nil {
			return fmt.Errorf("list %q: %w", key, err)
		}
		return fn(m.info(key))
	})
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
