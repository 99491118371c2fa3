package relay

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay/auth"
)

// caller authenticates an HTTP request when auth is on: a verified client
// certificate, HTTP basic auth with an id and its token (as the SDK's file
// requests send), or "Authorization: Bearer TOKEN" alone (as medrelayctl
// sends; the token names its id). ok is false without auth, where no one
// is identified.
func (r *Relay) caller(req *http.Request) (ident auth.Identity, ok bool, err error) {
	if r.creds == nil {
		return auth.Identity{}, false, nil
	}
	if id := tlsconf.PeerID(req.TLS); id != "" {
		return r.creds.Lookup(id), true, nil
	}
	if id, token, basic := req.BasicAuth(); basic {
		ident, err = r.creds.Check(id, token)
		if err != nil {
			err = fmt.Errorf("%s: %w", id, err)
		}
		return ident, true, err
	}
	if h := req.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		ident, err = r.creds.CheckToken(strings.TrimPrefix(h, "Bearer "))
		return ident, true, err
	}
	return auth.Identity{}, true, auth.ErrMissing
}

// admin guards an admin API endpoint. With auth on, the caller needs a
// credential with role admin: 401 without a valid one, 403 with another
// role. Without auth the endpoint is open, except that changes
// (changes=true: replaying dead letters) are kept to the relay's own
// machine (loopback).
func (r *Relay) admin(changes bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if status, err := r.authorizeAdmin(req, changes); err != nil {
			r.log.Warn("admin request refused", "path", req.URL.Path, "remote", req.RemoteAddr, "status", status, "reason", err.Error())
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="medrelay"`)
			}
			http.Error(w, err.Error(), status)
			return
		}
		h(w, req)
	}
}

// authorizeAdmin decides an admin request, returning the HTTP status of a
// refusal.
func (r *Relay) authorizeAdmin(req *http.Request, changes bool) (int, error) {
	ident, ok, err := r.caller(req)
	switch {
	case !ok:
		if changes && !fromLoopback(req) {
			return http.StatusForbidden, errors.New("without auth this is allowed only from the relay's own machine; with auth on, an admin credential allows it from anywhere")
		}
		return 0, nil
	case err != nil:
		return http.StatusUnauthorized, fmt.Errorf("%w (the admin API needs an admin credential: --token, or MEDRELAY_TOKEN, made by medrelay credentials add --role admin)", err)
	case ident.Role != auth.RoleAdmin:
		return http.StatusForbidden, fmt.Errorf("%s has role %s; the admin API needs a credential with role admin (medrelay credentials add --role admin)", ident.ID, ident.Role)
	}
	return 0, nil
}
