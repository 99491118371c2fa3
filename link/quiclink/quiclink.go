// Package quiclink carries medrelay links over QUIC (quic-go): one
// bidirectional stream per link, on which package link runs unchanged.
// QUIC brings TLS 1.3, survives address changes and copes with lossy
// links better than TCP.
//
// QUIC's idle timeout and keep-alive follow the link's own heartbeat and
// timeout, so both notice a dead peer at the same time. The package does
// not route or authenticate; it listens, dials and hands out streams.
package quiclink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/tlsconf"
)

// Application error codes sent when a link's connection closes.
const (
	codeClosed quic.ApplicationErrorCode = 0
	// CodeRefused closes a connection the relay does not take (a limit),
	// with the reason as the error message.
	CodeRefused quic.ApplicationErrorCode = 1
)

// Config returns the QUIC configuration for a link with these options:
// the idle timeout is the link's timeout, keep-alives go out at the
// heartbeat interval.
func Config(o link.Options) *quic.Config {
	o = o.WithDefaults()
	timeout, hb := o.Timeout, o.Heartbeat
	return &quic.Config{
		HandshakeIdleTimeout: timeout,
		MaxIdleTimeout:       timeout,
		KeepAlivePeriod:      hb,
	}
}

// Stream is one link's QUIC stream. Close closes the whole connection.
type Stream struct {
	*quic.Stream
	conn *quic.Conn
}

var _ link.Stream = (*Stream)(nil)

// closeDelay lets the last frames written (a goodbye with its reason)
// reach the peer before the connection closes.
const closeDelay = 200 * time.Millisecond

// Close ends the stream now and its connection shortly after.
func (s *Stream) Close() error {
	s.Stream.Close()
	s.Stream.CancelRead(0)
	time.AfterFunc(closeDelay, func() { s.conn.CloseWithError(codeClosed, "link closed") })
	return nil
}

// ConnectionState returns the TLS state (for client certificates).
func (s *Stream) ConnectionState() tls.ConnectionState {
	return s.conn.ConnectionState().TLS
}

// RemoteAddr returns the peer's address.
func (s *Stream) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Listener accepts links over QUIC.
type Listener struct {
	ln *quic.Listener
}

// Listen serves QUIC on pc (or on addr when pc is nil). tlsConf is the
// relay's server TLS configuration.
func Listen(addr string, pc net.PacketConn, tlsConf *tls.Config, o link.Options) (*Listener, error) {
	tc := tlsconf.ForLink(tlsConf)
	if tc == nil {
		return nil, fmt.Errorf("quic: %w", tlsconf.ErrNoTLS)
	}
	var ln *quic.Listener
	var err error
	if pc != nil {
		ln, err = quic.Listen(pc, tc, Config(o))
	} else {
		ln, err = quic.ListenAddr(addr, tc, Config(o))
	}
	if err != nil {
		return nil, err
	}
	return &Listener{ln: ln}, nil
}

// Addr returns the UDP address served.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting. Established links continue until they end.
func (l *Listener) Close() error { return l.ln.Close() }

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("quic listener closed")

// Accept waits for a connection and its first stream. A connection that
// opens no stream within the handshake timeout is dropped; Accept then
// waits for the next one.
func (l *Listener) Accept(ctx context.Context) (*quic.Conn, error) {
	c, err := l.ln.Accept(ctx)
	if err != nil {
		if errors.Is(err, quic.ErrServerClosed) {
			return nil, ErrClosed
		}
		return nil, err
	}
	return c, nil
}

// AcceptStream waits for the link's stream on an accepted connection.
func AcceptStream(c *quic.Conn, timeout time.Duration) (*Stream, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := c.AcceptStream(ctx)
	if err != nil {
		c.CloseWithError(codeClosed, "no stream")
		return nil, fmt.Errorf("accept stream: %w", err)
	}
	return &Stream{Stream: s, conn: c}, nil
}

// Dial connects to a QUIC link listener and opens the link's stream.
func Dial(ctx context.Context, addr string, tlsConf *tls.Config, o link.Options) (*Stream, error) {
	c, err := quic.DialAddr(ctx, addr, tlsconf.ForLink(tlsConf), Config(o))
	if err != nil {
		return nil, fmt.Errorf("dial quic %s: %w", addr, err)
	}
	s, err := c.OpenStreamSync(ctx)
	if err != nil {
		c.CloseWithError(codeClosed, "open stream")
		return nil, fmt.Errorf("open quic stream %s: %w", addr, err)
	}
	return &Stream{Stream: s, conn: c}, nil
}
