// Package node runs a node relay's link to its parent: it reads the
// parent's /v1/hello, picks the transport the parent prefers (unless the
// node pins one; after repeated failures it falls back quic → tcp → http
// and later returns to the preferred one), dials over TCP, QUIC or HTTP,
// says hello as a child with its subtree, and hands the established link
// to the relay. When the link ends it reconnects, forever, with capped
// and jittered backoff.
//
// The package does not route or store; the relay does that with the link
// it is handed.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/hello"
	"github.com/medrelay/medrelay/link/tlsconf"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Options configure an Uplink. Zero durations mean the defaults.
type Options struct {
	// RelayID is this node's id.
	RelayID string
	// ParentURL is the parent's HTTP address (https:// under TLS).
	ParentURL string
	// Transport is "auto" (what the parent prefers) or a transport name.
	Transport string
	// TLS verifies the parent (CAFile) and may present a client certificate.
	TLS tlsconf.ClientOptions
	// Token authenticates this node to its parent.
	Token string
	// Retry is how often a node on a fallback transport tries the
	// parent's preferred one again (default 5m).
	Retry time.Duration
	// Subtree returns this node and every relay below it, for the hello.
	Subtree func() []string
	// Version is sent in the hello.
	Version string
	// Link configures the link (heartbeat, timeout, window, frame limit).
	Link link.Options
	// MinBackoff is the first wait after a failure (default 100ms).
	MinBackoff time.Duration
	// MaxBackoff caps the wait between attempts (default 5s).
	MaxBackoff time.Duration
	// Logger receives connection events (default slog.Default()).
	Logger *slog.Logger
}

// Link is an established link to the parent, of any transport.
type Link = hello.Link

// AttachFunc serves an established link to the parent and returns when it
// has ended.
type AttachFunc func(c Link, w *pb.Welcome, transport string)

// Uplink keeps a node linked to its parent.
type Uplink struct {
	opts    Options
	attach  AttachFunc
	http    *http.Client
	dial    hello.DialOptions
	chooser hello.Chooser
	tlsErr  error

	mu    sync.Mutex
	state adminapi.ParentLink
}

// New returns an Uplink; Run starts it.
func New(opts Options, attach AttachFunc) *Uplink {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	u := &Uplink{opts: opts, attach: attach, chooser: hello.Chooser{Pin: opts.Transport}}
	tc, err := tlsconf.Client(opts.ParentURL, opts.TLS)
	u.tlsErr = err
	u.dial = hello.DialOptions{TLS: tc, Token: opts.Token, Link: opts.Link, HTTP: hello.NewHTTPClient(tc)}
	u.http = u.dial.HTTP
	u.state = adminapi.ParentLink{State: "connecting", URL: opts.ParentURL, Since: time.Now()}
	return u
}

// State returns a snapshot of the uplink's state.
func (u *Uplink) State() adminapi.ParentLink {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

// Run connects and reconnects until ctx ends.
func (u *Uplink) Run(ctx context.Context) {
	backoff := hello.Backoff{Min: u.opts.MinBackoff, Max: u.opts.MaxBackoff}
	for ctx.Err() == nil {
		connected, err := u.once(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff.Reset()
		}
		u.setDown(err)
		wait := backoff.Next()
		u.opts.Logger.Warn("parent link down", "parent", u.opts.ParentURL, "err", err, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// once makes one connection and serves it until it ends.
func (u *Uplink) once(ctx context.Context) (connected bool, err error) {
	if u.tlsErr != nil {
		return false, u.tlsErr
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	h, err := hello.Fetch(hctx, u.http, u.opts.ParentURL)
	cancel()
	if err != nil {
		return false, err
	}
	t, err := u.chooser.Choose(h)
	if err != nil {
		return false, err
	}
	c, w, err := hello.Connect(ctx, u.opts.ParentURL, t, &pb.Hello{RelayId: u.opts.RelayID, Subtree: u.opts.Subtree(), Version: u.opts.Version}, u.dial)
	if err != nil {
		u.chooser.Failed(h)
		return false, fmt.Errorf("%s: %w", t.Name, err)
	}
	u.chooser.Connected()
	u.mu.Lock()
	u.state = adminapi.ParentLink{State: "connected", URL: u.opts.ParentURL, Parent: w.RelayId, Transport: t.Name, Addr: t.Addr, Since: time.Now(), Attempts: u.state.Attempts}
	u.mu.Unlock()
	u.opts.Logger.Info("parent link up", "parent", w.RelayId, "transport", t.Name, "addr", t.Addr)
	var wg sync.WaitGroup
	var back atomic.Bool
	if !u.chooser.OnPreferred(h) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hello.ReturnToPreferred(ctx, c, h, u.opts.ParentURL, u.dial, u.opts.Retry, func() {
				back.Store(true)
				u.opts.Logger.Info("parent's preferred transport answers again", "transport", h.Prefer)
			})
		}()
	}
	u.attach(c, w, t.Name)
	wg.Wait()
	if back.Load() {
		u.chooser.Reset()
	}
	return true, fmt.Errorf("link ended: %w", c.Err())
}

func (u *Uplink) setDown(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state.State != "connecting" {
		u.state.Since = time.Now()
	}
	u.state.State = "connecting"
	u.state.Transport, u.state.Addr = "", ""
	u.state.Attempts++
	if err != nil {
		u.state.LastError = err.Error()
	}
}
