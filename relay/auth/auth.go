// Package auth checks the credentials of clients and child relays.
//
// A credentials file holds one line per identity: the client or relay id
// and the hex SHA-256 of its token. The relay keeps only these hashes; a
// token is 256 random bits shown once, when it is made (medrelay
// credentials add). Comparison is constant-time. The file is read again
// when it changes, so adding a clinic needs no restart.
package auth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sentinel errors of Check; the relay tells the peer the error's text.
var (
	ErrMissing = errors.New("authentication required: no token or client certificate given")
	ErrInvalid = errors.New("authentication failed: the token is not valid for this id")
)

// Credentials are the token hashes of a credentials file.
type Credentials struct {
	path string

	mu      sync.Mutex
	hashes  map[string][32]byte
	fi      os.FileInfo
	checked time.Time
}

// Open reads the credentials file at path.
func Open(path string) (*Credentials, error) {
	c := &Credentials{path: path}
	if err := c.reload(true); err != nil {
		return nil, err
	}
	return c, nil
}

// Check reports whether token proves id. An empty token is ErrMissing.
func (c *Credentials) Check(id, token string) error {
	if token == "" {
		return ErrMissing
	}
	got := sha256.Sum256([]byte(token))
	if c.match(id, got) {
		return nil
	}
	// The file may have changed (a credential added or replaced): read
	// it again, at most ten times a second, and check once more.
	c.mu.Lock()
	force := time.Since(c.checked) > 100*time.Millisecond
	if force {
		c.checked = time.Now()
	}
	c.reloadLocked(force)
	c.mu.Unlock()
	if c.match(id, got) {
		return nil
	}
	return ErrInvalid
}

func (c *Credentials) match(id string, got [32]byte) bool {
	c.mu.Lock()
	want, ok := c.hashes[id]
	c.mu.Unlock()
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && ok
}

func (c *Credentials) reload(force bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloadLocked(force)
}

// reloadLocked reads the file when it changed. A file that became
// unreadable keeps the last good credentials.
func (c *Credentials) reloadLocked(force bool) error {
	fi, err := os.Stat(c.path)
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	if !force && c.fi != nil && os.SameFile(fi, c.fi) && fi.ModTime().Equal(c.fi.ModTime()) && fi.Size() == c.fi.Size() {
		return nil
	}
	data, err := os.ReadFile(c.path)
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	hashes, err := Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.path, err)
	}
	c.hashes, c.fi = hashes, fi
	return nil
}

// Parse reads "ID SHA256-HEX" lines; blank lines and # comments are skipped.
func Parse(data []byte) (map[string][32]byte, error) {
	out := make(map[string][32]byte)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"ID SHA256-HEX\"", n)
		}
		b, err := hex.DecodeString(f[1])
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("line %d: the hash of %s is not 64 hex digits", n, f[0])
		}
		out[f[0]] = [32]byte(b)
	}
	return out, sc.Err()
}

// NewToken returns a new random token (256 bits, hex) and its hash line value.
func NewToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = hex.EncodeToString(b)
	h := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(h[:])
}

// Add makes a new token for id, writes its hash to the file at path
// (replacing id's old one, creating the file when missing) and returns the
// token. The file is replaced atomically.
func Add(path, id string) (string, error) {
	var hashes map[string][32]byte
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		hashes = make(map[string][32]byte)
	case err != nil:
		return "", err
	default:
		if hashes, err = Parse(data); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	}
	token, hash := NewToken()
	b, _ := hex.DecodeString(hash)
	hashes[id] = [32]byte(b)
	ids := make([]string, 0, len(hashes))
	for k := range hashes {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	var out bytes.Buffer
	out.WriteString("# medrelay credentials: ID SHA256(token). Made by medrelay credentials add.\n")
	for _, k := range ids {
		h := hashes[k]
		fmt.Fprintf(&out, "%s %s\n", k, hex.EncodeToString(h[:]))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".creds-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return "", err
	}
	return token, os.Rename(tmp.Name(), path)
}
