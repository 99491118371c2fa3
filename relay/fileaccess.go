package relay

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay/auth"
	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// fileGrace is how long a read grant outlives its envelope's expiry: the
// SDK keeps attached objects as long (client.FileGrace).
const fileGrace = 7 * 24 * time.Hour

// authenticates reports whether a relay knows who its callers are: auth,
// or client certificates.
func authenticates(cfg *config.Config) bool {
	return cfg.Auth != nil || (cfg.TLS != nil && cfg.TLS.ClientCAFile != "")
}

// grantFiles lets the local client of queue q read the files env refers
// to: this relay delivers env to it, so it is one of the envelope's
// recipients. A reference whose key ends in "/" grants every key under it
// (a study of many objects in one reference).
func (r *Relay) grantFiles(tx *store.Tx, q Queue, env *pb.Envelope, now time.Time) error {
	if len(env.Files) == 0 || !q.isClient() || env.Kind == pb.Kind_KIND_RECEIPT {
		return nil
	}
	until := now.Add(r.cfg.Limits.MaxTTL)
	if exp := env.ExpiresAt; exp != nil {
		until = exp.AsTime()
	}
	client := strings.TrimPrefix(string(q), "client/")
	for _, f := range env.Files {
		if err := tx.Grant(client, f.GetKey(), until.Add(fileGrace)); err != nil {
			return err
		}
	}
	return nil
}

// authorizeFiles decides the file requests that carry no signed URL.
//
// With auth on (or client certificates), the caller proves an identity,
// and its role decides: a client writes only under its own prefix
// (THIS-RELAY/CLIENT/...), and reads what it wrote and what an envelope
// delivered to it refers to; a child relay (which checked its own
// callers) writes under the relays it may announce and reads; an admin
// may do everything. Listing, deleting and gc are for admins.
//
// Without auth, reads and writes are open to whoever reaches the relay's
// HTTP address (as its links are), and listing, deleting and gc are kept
// to the relay's own machine (loopback).
func (r *Relay) authorizeFiles(req *http.Request, op filehttp.Op, key string) error {
	if op != filehttp.OpRead && op != filehttp.OpWrite {
		_, err := r.authorizeAdmin(req, true)
		return err
	}
	if r.creds == nil && authenticates(r.cfg) {
		id := tlsconf.PeerID(req.TLS)
		if id == "" {
			return errors.New("this relay accepts only client certificates")
		}
		return nil // without a credentials file, certificates carry no role
	}
	ident, ok, err := r.caller(req)
	if !ok {
		return nil
	}
	if err != nil {
		r.log.Warn("file request refused", "op", string(op), "remote", req.RemoteAddr, "reason", err.Error())
		return fmt.Errorf("%w (send HTTP basic auth with your client or relay id and its token)", err)
	}
	err = r.authorizeKey(ident, op, key)
	if err == nil && req.Method == http.MethodPut && ident.Role == auth.RoleClient {
		n := req.ContentLength
		if n < 0 {
			n = r.cfg.Limits.MaxFilePutBytes
		}
		err = r.files.meter.charge(ident.ID, n, r.cfg.Limits.MaxFileBytesPerCaller, time.Now())
	}
	if err != nil {
		r.log.Warn("file request refused", "op", string(op), "id", ident.ID, "role", string(ident.Role), "key", key, "reason", err.Error())
		return err
	}
	return nil
}

// uploadMeter counts the bytes each client PUT in the last 24 hours
// (in two halves of a day each, so a window never resets all at once).
type uploadMeter struct {
	mu     sync.Mutex
	start  time.Time        // when the current half-day began
	now    map[string]int64 // this half-day
	before map[string]int64 // the one before
}

const meterHalf = 12 * time.Hour

// charge adds n bytes for id, or refuses them when they would pass max
// (0: no bound).
func (m *uploadMeter) charge(id string, n, max int64, now time.Time) error {
	if max <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.now == nil || now.Sub(m.start) >= 2*meterHalf:
		m.start, m.now, m.before = now, map[string]int64{}, map[string]int64{}
	case now.Sub(m.start) >= meterHalf:
		m.start, m.before, m.now = m.start.Add(meterHalf), m.now, map[string]int64{}
	}
	used := m.now[id] + m.before[id]
	if used+n > max {
		return fmt.Errorf("client %s has uploaded %d bytes through this relay in the last day; %d more would pass limits.max_file_bytes_per_caller (%d)", id, used, n, max)
	}
	m.now[id] += n
	return nil
}

// authorizeKey decides op on key for an authenticated caller.
func (r *Relay) authorizeKey(ident auth.Identity, op filehttp.Op, key string) error {
	own := r.cfg.ID + "/" + ident.ID + "/"
	switch ident.Role {
	case auth.RoleAdmin:
		return nil
	case auth.RoleRelay:
		first, _, _ := strings.Cut(key, "/")
		if op == filehttp.OpWrite && !ident.MayAnnounce(first) {
			return fmt.Errorf("relay %s may write only under the relays it may announce (%s/...), not %q", ident.ID, strings.Join(append([]string{ident.ID}, ident.Subtree...), "/..., "), key)
		}
		return nil
	}
	if strings.HasPrefix(key, own) {
		return nil
	}
	if op == filehttp.OpWrite {
		return fmt.Errorf("client %s may write only under its own prefix %s, not %q", ident.ID, own, key)
	}
	if r.store.Granted(ident.ID, key, time.Now()) {
		return nil
	}
	return fmt.Errorf("client %s may read only its own files (%s...) and files of envelopes delivered to it; no envelope for it refers to %q", ident.ID, own, key)
}
