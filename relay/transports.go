package relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/httplink"
	"github.com/medrelay/medrelay/link/quiclink"
	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay/auth"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

var _ link.Link = (*httplink.Session)(nil)

// setupSecurity loads the TLS configuration and the credentials.
func (r *Relay) setupSecurity() error {
	if t := r.cfg.TLS; t != nil {
		tc, err := tlsconf.Server(t.CertFile, t.KeyFile, t.ClientCAFile)
		if err != nil {
			return err
		}
		r.tls = tc
	}
	if a := r.cfg.Auth; a != nil {
		creds, err := auth.Open(a.CredentialsFile, auth.Options{Relays: a.Relays})
		if err != nil {
			return fmt.Errorf("auth.credentials_file: %w", err)
		}
		r.creds = creds
		if legacy := creds.Legacy(); len(legacy) > 0 {
			r.log.Warn("credentials without a role (written before roles): they act as clients, except the ids under auth.relays, which act as relays; add roles with medrelay credentials add --role",
				"file", a.CredentialsFile, "ids", strings.Join(legacy, ","))
		}
		if r.tls == nil {
			r.log.Warn("AUTH WITHOUT TLS: tokens cross the network in the clear (auth.allow_plaintext: true); use this on a test bench only")
		}
	}
	if p := r.cfg.Parent; p != nil && r.cfg.FileStore == nil && !authenticates(r.cfg) && p.Token != "" {
		r.log.Warn("file requests go to the parent without this node's credentials: this node has no auth, so it cannot tell who its callers are and never lends them parent.token; turn auth on to serve files from a parent that requires credentials")
	}
	return nil
}

// listenQUIC binds the QUIC listener. Without tls, QUIC (which always
// encrypts) uses a throwaway certificate that dialers do not verify.
func (r *Relay) listenQUIC(pc net.PacketConn) error {
	if r.cfg.Listen.QUIC == "" && pc == nil {
		return nil
	}
	tc := r.tls
	if tc == nil {
		cert, err := tlsconf.SelfSigned(r.cfg.ID)
		if err != nil {
			return err
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	ln, err := quiclink.Listen(r.cfg.Listen.QUIC, pc, tc, r.opts)
	if err != nil {
		return fmt.Errorf("listen.quic %s: %w", r.cfg.Listen.QUIC, err)
	}
	r.quicLn = ln
	return nil
}

// QUICAddr returns the bound QUIC address, or "".
func (r *Relay) QUICAddr() string {
	if r.quicLn == nil {
		return ""
	}
	return r.quicLn.Addr().String()
}

func (r *Relay) quicAcceptLoop() {
	for {
		qc, err := r.quicLn.Accept(r.ctx)
		if err != nil {
			if errors.Is(err, quiclink.ErrClosed) || r.ctx.Err() != nil {
				return
			}
			r.log.Warn("accept", "transport", "quic", "err", err)
			continue
		}
		release, err := r.limiter.acquire(qc.RemoteAddr())
		if err != nil {
			r.limiter.refuse("quic", qc.RemoteAddr(), err)
			qc.CloseWithError(quiclink.CodeRefused, "connection refused: "+err.Error())
			continue
		}
		r.goRun(func() {
			defer release()
			s, err := quiclink.AcceptStream(qc, link.HandshakeTimeout)
			if err != nil {
				r.log.Debug("quic connection without a link stream", "remote", qc.RemoteAddr().String(), "err", err)
				return
			}
			r.serveStream(s, "quic", qc.RemoteAddr().String())
		})
	}
}

// newHTTPLink makes the HTTP link server mounted on the HTTP address.
func (r *Relay) newHTTPLink() *httplink.Server {
	return httplink.NewServer(httplink.ServerOptions{
		Accept:      r.acceptHTTP,
		IdleTimeout: r.linkTimeout(),
		Window:      r.opts.Window,
		MaxBody:     r.cfg.Limits.MaxFrameBytes,
		MaxHello:    r.cfg.Limits.MaxHelloBytes,
		Logger:      r.log,
	})
}

// linkTimeout is how long a silent link lives: an HTTP session without
// requests expires after it too.
func (r *Relay) linkTimeout() time.Duration {
	return r.opts.WithDefaults().Timeout
}

// acceptHTTP decides on a new HTTP link session, and serves it.
func (r *Relay) acceptHTTP(req httplink.AcceptRequest, s *httplink.Session) (*pb.Session, error) {
	h, remote := req.Hello, req.HTTP.RemoteAddr
	if err := r.admit(h, req.Token, req.HTTP.TLS); err != nil {
		r.log.Warn("link refused", "remote", remote, "transport", "http", "reason", err.Error())
		status := http.StatusForbidden
		switch {
		case errors.Is(err, auth.ErrMissing), errors.Is(err, auth.ErrInvalid), errors.Is(err, errCertMismatch):
			status = http.StatusUnauthorized
		case errors.Is(err, errBadHello):
			status = http.StatusBadRequest
		}
		return nil, &httplink.Refusal{Status: status, Reason: err.Error()}
	}
	r.goRun(func() { r.serveLink(s, h, "http") })
	return &pb.Session{RelayId: r.cfg.ID, Role: r.cfg.Role, Version: Version, Ancestors: r.ancestors()}, nil
}

// Errors of admit, for HTTP status codes and logs.
var (
	errBadHello     = errors.New("bad hello")
	errCertMismatch = errors.New("client certificate is for another id")
)

// admit checks a hello, its credentials and a child's subtree.
func (r *Relay) admit(h *pb.Hello, token string, cs *tls.ConnectionState) error {
	if err := r.checkHello(h); err != nil {
		return fmt.Errorf("%w: %w", errBadHello, err)
	}
	if err := r.authenticate(h, token, cs); err != nil {
		return err
	}
	if h.RelayId != "" {
		return r.checkSubtree(h.RelayId, h.Subtree)
	}
	return nil
}

// authenticate checks that the dialer is who its hello says, a client or
// a relay, and that its credential has that role: a verified client
// certificate for that id, or a token whose hash is on file. A client's
// credential never opens a relay link, nor a relay's a client link.
func (r *Relay) authenticate(h *pb.Hello, token string, cs *tls.ConnectionState) error {
	kind, id, want := "client", h.ClientId, auth.RoleClient
	if h.RelayId != "" {
		kind, id, want = "relay", h.RelayId, auth.RoleRelay
	}
	var ident auth.Identity
	if certID := tlsconf.PeerID(cs); certID != "" {
		if certID != id {
			return fmt.Errorf("%w: certificate %q, hello %s %q", errCertMismatch, certID, kind, id)
		}
		if r.creds == nil {
			return nil
		}
		ident = r.creds.Lookup(id)
	} else {
		if r.creds == nil {
			return nil
		}
		var err error
		if ident, err = r.creds.Check(id, token); err != nil {
			return fmt.Errorf("%s %s: %w", kind, id, err)
		}
	}
	if ident.Role != want {
		return fmt.Errorf("%s %s: %w: its credential has role %s, and a %s link needs role %s (medrelay credentials add --role %s%s)",
			kind, id, auth.ErrRole, ident.Role, kind, want, want, map[bool]string{true: " --subtree ...", false: ""}[want == auth.RoleRelay])
	}
	return nil
}

// ancestors returns this relay's parent and the parent's ancestors, as
// learned when the parent link came up.
func (r *Relay) ancestors() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.ancestry)
}

// checkSubtree decides whether child may announce subtree. A child may
// announce itself and relays below it; it may not announce this relay or
// any of its ancestors (that would route traffic in a loop), nor a relay
// that is routed through another child whose link is up (that child
// holds it; a relay that moved can be announced once its old child link
// is down).
//
// With auth on, a child may announce only the relays its credential
// allows (auth.Identity.MayAnnounce).
func (r *Relay) checkSubtree(child string, subtree []string) error {
	if !slices.Contains(subtree, child) {
		return fmt.Errorf("child %s must announce itself in its subtree", child)
	}
	if r.creds != nil {
		ident := r.creds.Lookup(child)
		for _, id := range subtree {
			if !ident.MayAnnounce(id) {
				return fmt.Errorf("child %s: %w: it announced %s, which its credential does not allow (allowed: %s; medrelay credentials add --role relay --subtree ... adds it)",
					child, auth.ErrRole, id, strings.Join(append([]string{child}, ident.Subtree...), ","))
			}
		}
	}
	anc := r.ancestors()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, id := range subtree {
		if id == r.cfg.ID || slices.Contains(anc, id) {
			return fmt.Errorf("child %s announced %s, which is above it", child, id)
		}
		if via, ok := r.routes[id]; ok && via != child && r.children[via] != nil {
			return fmt.Errorf("child %s announced %s, which is under child %s", child, id, via)
		}
	}
	return nil
}

// parentTLS says how a node verifies its parent, and presents its own
// certificate (from tls) as a client certificate.
func (r *Relay) parentTLS() tlsconf.ClientOptions {
	o := tlsconf.ClientOptions{CAFile: r.cfg.Parent.CAFile}
	if t := r.cfg.TLS; t != nil {
		o.CertFile, o.KeyFile = t.CertFile, t.KeyFile
	}
	return o
}
