package local

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

// upload is the upload.json of a multipart upload.
type upload struct {
	Key  string               `json:"key"`
	Opts filestore.PutOptions `json:"opts"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (s *Store) uploadDir(id string) string { return filepath.Join(s.dir, "uploads", id) }

// loadUpload checks id and that it belongs to key.
func (s *Store) loadUpload(key, id string) (upload, error) {
	var u upload
	if err := filestore.ValidateKey(key); err != nil {
		return u, err
	}
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return u, fmt.Errorf("upload %q: %w", id, filestore.ErrNotFound)
	}
	data, err := os.ReadFile(filepath.Join(s.uploadDir(id), "upload.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return u, fmt.Errorf("upload %q: %w", id, filestore.ErrNotFound)
	}
	if err != nil {
		return u, err
	}
	if err := json.Unmarshal(data, &u); err != nil {
		return u, fmt.Errorf("upload %q: %w", id, err)
	}
	if u.Key != key {
		return u, fmt.Errorf("upload %q is not for key %q: %w", id, key, filestore.ErrNotFound)
	}
	return u, nil
}

// CreateUpload implements filestore.Store.
func (s *Store) CreateUpload(ctx context.Context, key string, opts filestore.PutOptions) (string, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return "", fmt.Errorf("create upload: %w", err)
	}
	if !filestore.ValidSHA256(opts.SHA256) {
		return "", fmt.Errorf("create upload %q: %w: sha256 of the whole object is required", key, filestore.ErrInvalidOptions)
	}
	id := newID()
	data, _ := json.Marshal(upload{Key: key, Opts: opts})
	if err := os.MkdirAll(s.uploadDir(id), 0o750); err != nil {
		return "", fmt.Errorf("create upload %q: %w", key, err)
	}
	if err := s.writeFileAtomic(filepath.Join(s.uploadDir(id), "upload.json"), data); err != nil {
		return "", fmt.Errorf("create upload %q: %w", key, err)
	}
	return id, nil
}

// UploadPart implements filestore.Store.
func (s *Store) UploadPart(ctx context.Context, key, id string, n int, r io.Reader, size int64) (filestore.Part, error) {
	if _, err := s.loadUpload(key, id); err != nil {
		return filestore.Part{}, fmt.Errorf("upload part %d: %w", n, err)
	}
	if n < 1 || n > filestore.MaxParts {
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: %w: number outside 1..%d", n, key, filestore.ErrInvalidPart, filestore.MaxParts)
	}
	crc := crc32.New(castagnoli)
	cr := &countReader{r: io.TeeReader(ctxReader{ctx, r}, crc)}
	tmp, err := s.writeTemp(cr)
	if err != nil {
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: %w", n, key, err)
	}
	if size >= 0 && cr.n != size {
		os.Remove(tmp)
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: got %d bytes, want %d: %w", n, key, cr.n, size, filestore.ErrSizeMismatch)
	}
	p := filestore.Part{Number: n, Size: cr.n, ETag: hex.EncodeToString(crc.Sum(nil))}
	old, _ := s.partFiles(id)
	dst := filepath.Join(s.uploadDir(id), fmt.Sprintf("%05d.%s.part", n, p.ETag))
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: %w", n, key, err)
	}
	for _, o := range old {
		if o.Number == n && o.ETag != p.ETag {
			os.Remove(filepath.Join(s.uploadDir(id), o.file))
		}
	}
	if err := s.syncDir(s.uploadDir(id)); err != nil {
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: %w", n, key, err)
	}
	return p, nil
}

type partFile struct {
	filestore.Part
	file string
}

// partFiles lists the parts of upload id, by ascending number.
func (s *Store) partFiles(id string) ([]partFile, error) {
	ents, err := os.ReadDir(s.uploadDir(id))
	if err != nil {
		return nil, err
	}
	var parts []partFile
	for _, e := range ents {
		f := strings.Split(e.Name(), ".")
		if len(f) != 3 || f[2] != "part" {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		parts = append(parts, partFile{filestore.Part{Number: n, Size: fi.Size(), ETag: f[1]}, e.Name()})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// ListParts implements filestore.Store.
func (s *Store) ListParts(ctx context.Context, key, id string) ([]filestore.Part, error) {
	if _, err := s.loadUpload(key, id); err != nil {
		return nil, fmt.Errorf("list parts: %w", err)
	}
	pf, err := s.partFiles(id)
	if err != nil {
		return nil, fmt.Errorf("list parts of %q: %w", key, err)
	}
	parts := make([]filestore.Part, len(pf))
	for i, p := range pf {
		parts[i] = p.Part
	}
	return parts, nil
}

// CompleteUpload implements filestore.Store. It joins the parts while
// hashing them and refuses the result, keeping the upload, when the
// SHA-256 differs from the one given to CreateUpload.
func (s *Store) CompleteUpload(ctx context.Context, key, id string, parts []filestore.Part) (filestore.Info, error) {
	u, err := s.loadUpload(key, id)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("complete upload: %w", err)
	}
	files, err := s.matchParts(id, parts)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("complete upload of %q: %w", key, err)
	}
	mr := &multiFileReader{ctx: ctx, files: files}
	defer mr.Close()
	hr := filestore.NewHashReader(mr, key, u.Opts.SHA256, u.Opts.Size)
	tmp, err := s.writeTemp(hr)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("complete upload of %q: %w", key, err)
	}
	m := newSidecar(u.Opts, hr.N(), hr.Sum())
	if err := s.commit(key, tmp, m); err != nil {
		return filestore.Info{}, fmt.Errorf("complete upload of %q: %w", key, err)
	}
	os.RemoveAll(s.uploadDir(id))
	return m.info(key), nil
}

// matchParts checks the requested parts against those stored and returns
// their files in order.
func (s *Store) matchParts(id string, parts []filestore.Part) ([]string, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: no parts", filestore.ErrInvalidPart)
	}
	pf, err := s.partFiles(id)
	if err != nil {
		return nil, err
	}
	have := make(map[int]partFile, len(pf))
	for _, p := range pf {
		have[p.Number] = p
	}
	files := make([]string, len(parts))
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return nil, fmt.Errorf("%w: part %d out of order", filestore.ErrInvalidPart, p.Number)
		}
		h, ok := have[p.Number]
		if !ok || strings.Trim(p.ETag, `"`) != h.ETag {
			return nil, fmt.Errorf("%w: part %d (etag %s) not uploaded", filestore.ErrInvalidPart, p.Number, p.ETag)
		}
		files[i] = filepath.Join(s.uploadDir(id), h.file)
	}
	return files, nil
}

// AbortUpload implements filestore.Store.
func (s *Store) AbortUpload(ctx context.Context, key, id string) error {
	if _, err := s.loadUpload(key, id); err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	if err := os.RemoveAll(s.uploadDir(id)); err != nil {
		return fmt.Errorf("abort upload of %q: %w", key, err)
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// multiFileReader reads files one after another, opening each in turn.
type multiFileReader struct {
	ctx   context.Context
	files []string
	cur   *os.File
}

func (m *multiFileReader) Read(p []byte) (int, error) {
	for {
		if err := m.ctx.Err(); err != nil {
			return 0, err
		}
		if m.cur == nil {
			if len(m.files) == 0 {
				return 0, io.EOF
			}
			f, err := os.Open(m.files[0])
			if err != nil {
				return 0, err
			}
			m.cur, m.files = f, m.files[1:]
		}
		n, err := m.cur.Read(p)
		if err == io.EOF {
			m.cur.Close()
			m.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (m *multiFileReader) Close() error {
	if m.cur != nil {
		return m.cur.Close()
	}
	return nil
}

// CleanUploads aborts multipart uploads untouched for longer than
// olderThan (abandoned by clients that never came back) and returns how
// many it removed.
func (s *Store) CleanUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "uploads"))
	if err != nil {
		return 0, fmt.Errorf("clean uploads: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		if s.uploadTouched(e.Name()).After(cutoff) {
			continue
		}
		if err := os.RemoveAll(s.uploadDir(e.Name())); err != nil {
			return removed, fmt.Errorf("clean uploads: %w", err)
		}
		removed++
	}
	return removed, nil
}

// uploadTouched is the latest modification of an upload's files.
func (s *Store) uploadTouched(id string) time.Time {
	var latest time.Time
	ents, _ := os.ReadDir(s.uploadDir(id))
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.ModTime().After(latest) {
			latest = fi.ModTime()
		}
	}
	return latest
}
