package hello

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/httplink"
	"github.com/medrelay/medrelay/link/quiclink"
	"github.com/medrelay/medrelay/link/tlsconf"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// DialOptions say how to reach a relay.
type DialOptions struct {
	// TLS verifies the relay (nil for an http:// relay: no TLS).
	TLS *tls.Config
	// Token authenticates the dialer (Hello.token, or a bearer header on
	// HTTP). It is sent only under TLS (TLS set), unless AllowPlaintext.
	Token string
	// AllowPlaintext sends Token without TLS, in the clear (a test bench).
	AllowPlaintext bool
	// Link tunes heartbeats, timeouts and windows.
	Link link.Options
	// HTTP makes the HTTP link's requests (default: tlsconf.HTTPClient(TLS)).
	HTTP *http.Client
	// Wait is how long each HTTP poll waits (default 15s).
	Wait time.Duration
}

// Connect opens a link over t to the relay at base and greets it with h.
// A refusal wraps link.ErrRefused with the relay's reason.
func Connect(ctx context.Context, base string, t Transport, h *pb.Hello, o DialOptions) (link.Link, *pb.Welcome, error) {
	if o.Token != "" && o.TLS == nil && !o.AllowPlaintext {
		// Without TLS nothing verifies the relay (QUIC would accept any
		// certificate): the token would go to whoever answers.
		return nil, nil, fmt.Errorf("%w: %s is not https://; use the relay's https:// URL (with its CA file), or allow plaintext on a test bench", tlsconf.ErrPlaintextToken, base)
	}
	if t.Name == "http" {
		hc := o.HTTP
		if hc == nil {
			hc = tlsconf.HTTPClient(o.TLS)
		}
		c, w, err := httplink.Open(ctx, base, h, httplink.DialOptions{Client: hc, Token: o.Token, Link: o.Link, Wait: o.Wait})
		if err != nil {
			return nil, nil, fmt.Errorf("open http link: %w", err)
		}
		return c, w, nil
	}
	s, err := DialStream(ctx, base, t, o)
	if err != nil {
		return nil, nil, err
	}
	c := link.New(s, o.Link)
	h.Token = o.Token
	w, err := c.Greet(h)
	h.Token = ""
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return c, w, nil
}

// DialStream opens a TCP or QUIC stream to t, under TLS when o.TLS is set.
// QUIC always encrypts: without o.TLS (an http:// relay) the relay's
// certificate is not verified, as nothing else on that relay is.
func DialStream(ctx context.Context, base string, t Transport, o DialOptions) (link.Stream, error) {
	addr := dialAddr(base, t.Addr)
	switch t.Name {
	case "tcp":
		d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dial tcp %s: %w", addr, err)
		}
		if o.TLS == nil {
			return c.(*net.TCPConn), nil
		}
		tc := tls.Client(c, tlsconf.ForLink(o.TLS))
		hctx, cancel := context.WithTimeout(ctx, link.HandshakeTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		return tc, nil
	case "quic":
		tc := o.TLS
		if tc == nil {
			tc = &tls.Config{InsecureSkipVerify: true}
		}
		return quiclink.Dial(ctx, addr, tc, o.Link)
	}
	return nil, fmt.Errorf("%w: %s is not supported by this build", ErrNoTransport, t.Name)
}

// dialAddr replaces an unspecified listen host (0.0.0.0, ::) with the
// host of the relay's URL.
func dialAddr(base, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return addr
	}
	u, err := url.Parse(base)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Probe checks that t answers, without opening a link: a TLS or QUIC
// handshake, or the hello over HTTP.
func Probe(ctx context.Context, base string, t Transport, o DialOptions) error {
	if t.Name == "http" {
		hc := o.HTTP
		if hc == nil {
			hc = tlsconf.HTTPClient(o.TLS)
		}
		_, err := Fetch(ctx, hc, base)
		return err
	}
	s, err := DialStream(ctx, base, t, o)
	if err != nil {
		return err
	}
	return s.Close()
}
