package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

// uploadState is the JSON file that lets an upload resume. It is keyed by
// the file's absolute path, size and modification time and the target
// key: a changed file starts a new upload.
type uploadState struct {
	Path     string           `json:"path"`
	Size     int64            `json:"size"`
	ModTime  time.Time        `json:"mtime"`
	Key      string           `json:"key"`
	SHA256   string           `json:"sha256"`
	PartSize int64            `json:"part_size"`
	UploadID string           `json:"upload_id"`
	Parts    []filestore.Part `json:"parts"` // done, as known locally
}

// stateFile names the state of uploading path (with size and mtime) to key.
func stateFile(dir, path string, size int64, mtime time.Time, key string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s", path, size, mtime.UnixNano(), key)
	return filepath.Join(dir, "upload-"+hex.EncodeToString(h.Sum(nil))[:32]+".json")
}

// loadState returns the saved state, or nil if none matches.
func loadState(file string, want uploadState) (*uploadState, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read upload state: %w", err)
	}
	var st uploadState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, nil // a torn or foreign file: start over
	}
	if st.Path != want.Path || st.Size != want.Size || !st.ModTime.Equal(want.ModTime) || st.Key != want.Key ||
		st.UploadID == "" || !filestore.ValidSHA256(st.SHA256) || st.PartSize < filestore.MinPartSize ||
		partCount(st.Size, st.PartSize) > filestore.MaxParts {
		return nil, nil
	}
	return &st, nil
}

// save writes the state atomically.
func (st *uploadState) save(file string) error {
	if file == "" {
		return nil
	}
	data, _ := json.Marshal(st)
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return fmt.Errorf("save upload state: %w", err)
	}
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("save upload state: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save upload state: %w", err)
	}
	return nil
}
