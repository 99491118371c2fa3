// Package auth checks the credentials of clients, child relays and
// administrators.
//
// A credentials file holds one line per identity:
//
//	ID SHA256-HEX [role=client|relay|admin] [subtree=ID,ID...]
//
// the id, the hex SHA-256 of its token ("-" for an id that authenticates
// only by client certificate), its role (default client) and, for a
// relay, the relays below it that it may announce (it may always announce
// itself). The relay keeps only hashes; a token is 256 random bits shown
// once, when it is made (medrelay credentials add). Comparison is
// constant-time. The file is read again when it changes, so adding a
// clinic needs no restart.
//
// Lines written before roles existed ("ID SHA256-HEX") are clients,
// unless the relay's config names the id under auth.relays (see
// Options.Relays): then it is a relay with the subtree given there.
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
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sentinel errors; the relay tells the peer the error's text.
var (
	ErrMissing = errors.New("authentication required: no token or client certificate given")
	ErrInvalid = errors.New("authentication failed: the token is not valid for this id")
	// ErrRole is a valid credential used for what its role does not allow.
	ErrRole = errors.New("permission denied")
)

// Role is what a credential may do.
type Role string

// Roles of a credential.
const (
	// RoleClient sends and receives as itself over a client link.
	RoleClient Role = "client"
	// RoleRelay opens a child relay link and announces its subtree.
	RoleRelay Role = "relay"
	// RoleAdmin uses the admin API (status, audit, dead letters, files).
	RoleAdmin Role = "admin"
)

// Roles lists the valid roles, for messages.
var Roles = []Role{RoleClient, RoleRelay, RoleAdmin}

// ValidRole reports whether s names a role.
func ValidRole(s string) bool { return slices.Contains(Roles, Role(s)) }

// Identity is an authenticated id and what its credential allows.
type Identity struct {
	ID   string
	Role Role
	// Subtree is what a relay may announce: itself and the relays below.
	Subtree []string
	// Legacy is set for a line without role=, written before roles.
	Legacy bool
}

// MayAnnounce reports whether a relay identity may announce relay id.
func (i Identity) MayAnnounce(id string) bool {
	return i.Role == RoleRelay && (id == i.ID || slices.Contains(i.Subtree, id))
}

// Entry is one line of a credentials file.
type Entry struct {
	Hash    [32]byte
	NoToken bool // "-": only a client certificate authenticates this id
	Role    Role // "" on a line without role= (a legacy line)
	Subtree []string
}

// Options tune how a credentials file is read.
type Options struct {
	// Relays makes the legacy lines (without role=) of these ids relays,
	// each with the relays below it that it may announce (auth.relays).
	Relays map[string][]string
}

// Credentials are the entries of a credentials file.
type Credentials struct {
	path string
	opts Options

	mu      sync.Mutex
	entries map[string]Entry
	fi      os.FileInfo
	checked time.Time
}

// Open reads the credentials file at path.
func Open(path string, opts Options) (*Credentials, error) {
	c := &Credentials{path: path, opts: opts}
	if err := c.reload(true); err != nil {
		return nil, err
	}
	return c, nil
}

// Legacy returns the ids whose lines have no role=, sorted.
func (c *Credentials) Legacy() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id, e := range c.entries {
		if e.Role == "" {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Check reports whether token proves id, and returns what id may do. An
// empty token is ErrMissing.
func (c *Credentials) Check(id, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrMissing
	}
	got := sha256.Sum256([]byte(token))
	if e, ok := c.match(id, got); ok {
		return c.identity(id, e), nil
	}
	c.refresh()
	if e, ok := c.match(id, got); ok {
		return c.identity(id, e), nil
	}
	return Identity{}, ErrInvalid
}

// CheckToken finds the identity whose token this is (tokens are 256
// random bits, so one matches at most one line): for callers that send
// only a bearer token.
func (c *Credentials) CheckToken(token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrMissing
	}
	got := sha256.Sum256([]byte(token))
	for range 2 {
		c.mu.Lock()
		var found string
		for id, e := range c.entries {
			if !e.NoToken && subtle.ConstantTimeCompare(got[:], e.Hash[:]) == 1 {
				found = id
			}
		}
		e := c.entries[found]
		c.mu.Unlock()
		if found != "" {
			return c.identity(found, e), nil
		}
		c.refresh()
	}
	return Identity{}, ErrInvalid
}

// Lookup returns what id may do, for an id a client certificate proved.
// An id without a line is a client (or a relay named in Options.Relays).
func (c *Credentials) Lookup(id string) Identity {
	c.refresh()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if !ok {
		e = Entry{}
	}
	return c.identity(id, e)
}

func (c *Credentials) identity(id string, e Entry) Identity {
	in := Identity{ID: id, Role: e.Role, Subtree: e.Subtree}
	if e.Role == "" {
		in.Role, in.Legacy = RoleClient, true
		if sub, ok := c.opts.Relays[id]; ok {
			in.Role, in.Subtree = RoleRelay, sub
		}
	}
	return in
}

// refresh reads the file again if it changed, at most ten times a second.
func (c *Credentials) refresh() {
	c.mu.Lock()
	force := time.Since(c.checked) > 100*time.Millisecond
	if force {
		c.checked = time.Now()
	}
	c.reloadLocked(force)
	c.mu.Unlock()
}

func (c *Credentials) match(id string, got [32]byte) (Entry, bool) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	return e, subtle.ConstantTimeCompare(got[:], e.Hash[:]) == 1 && ok && !e.NoToken
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
	entries, err := Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.path, err)
	}
	c.entries, c.fi = entries, fi
	return nil
}

// Parse reads credential lines; blank lines and # comments are skipped.
func Parse(data []byte) (map[string]Entry, error) {
	out := make(map[string]Entry)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("line %d: want \"ID SHA256-HEX [role=client|relay|admin] [subtree=ID,...]\"", n)
		}
		var e Entry
		if f[1] == "-" {
			e.NoToken = true
		} else {
			b, err := hex.DecodeString(f[1])
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("line %d: the hash of %s is not 64 hex digits (or - for a certificate only)", n, f[0])
			}
			e.Hash = [32]byte(b)
		}
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "role":
				if !ValidRole(v) {
					return nil, fmt.Errorf("line %d: role %q of %s is invalid: use client, relay or admin", n, v, f[0])
				}
				e.Role = Role(v)
			case "subtree":
				if v != "" {
					e.Subtree = strings.Split(v, ",")
				}
			default:
				return nil, fmt.Errorf("line %d: %q is not a role=ROLE or subtree=ID,ID field", n, kv)
			}
		}
		if len(e.Subtree) > 0 && e.Role != RoleRelay {
			return nil, fmt.Errorf("line %d: %s has a subtree but role %s: only role=relay announces a subtree", n, f[0], e.roleName())
		}
		out[f[0]] = e
	}
	return out, sc.Err()
}

func (e Entry) roleName() string {
	if e.Role == "" {
		return string(RoleClient)
	}
	return string(e.Role)
}

// NewToken returns a new random token (256 bits, hex) and its hash line value.
func NewToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = hex.EncodeToString(b)
	h := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(h[:])
}

// Add makes a new token for id with role (and, for a relay, the relays
// below it that it may announce), writes its line to the file at path
// (replacing id's old one, creating the file when missing) and returns the
// token. The file is replaced atomically.
func Add(path, id string, role Role, subtree []string) (string, error) {
	if !ValidRole(string(role)) {
		return "", fmt.Errorf("role %q is invalid: use client, relay or admin", role)
	}
	if len(subtree) > 0 && role != RoleRelay {
		return "", fmt.Errorf("only role relay has a subtree, and this one is %s", role)
	}
	var entries map[string]Entry
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		entries = make(map[string]Entry)
	case err != nil:
		return "", err
	default:
		if entries, err = Parse(data); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	}
	token, hash := NewToken()
	b, _ := hex.DecodeString(hash)
	entries[id] = Entry{Hash: [32]byte(b), Role: role, Subtree: subtree}
	return token, write(path, entries)
}

func write(path string, entries map[string]Entry) error {
	ids := make([]string, 0, len(entries))
	for k := range entries {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	var out bytes.Buffer
	out.WriteString("# medrelay credentials: ID SHA256(token) role=ROLE [subtree=...]. Made by medrelay credentials add.\n")
	for _, k := range ids {
		e := entries[k]
		h := hex.EncodeToString(e.Hash[:])
		if e.NoToken {
			h = "-"
		}
		fmt.Fprintf(&out, "%s %s", k, h)
		if e.Role != "" {
			fmt.Fprintf(&out, " role=%s", e.Role)
		}
		if len(e.Subtree) > 0 {
			fmt.Fprintf(&out, " subtree=%s", strings.Join(e.Subtree, ","))
		}
		out.WriteString("\n")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".creds-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
