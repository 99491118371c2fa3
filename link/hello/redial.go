package hello

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/tlsconf"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// DefaultRetryPreferred is how often a dialer on a fallback transport
// tries the relay's preferred one again.
const DefaultRetryPreferred = 5 * time.Minute

// fetchTimeout bounds reading a relay's hello.
const fetchTimeout = 10 * time.Second

// RedialOptions configure a Redialer. Zero values mean the defaults.
type RedialOptions struct {
	// URL is the relay's HTTP address (https:// under TLS).
	URL string
	// Transport is "auto" (or empty: what the relay prefers) or a
	// transport name to pin.
	Transport string
	// TLS verifies the relay (CAFile) and may present a client certificate.
	TLS tlsconf.ClientOptions
	// Token authenticates the dialer; it is sent only to a relay verified
	// by TLS (an https:// URL), unless AllowPlaintext.
	Token string
	// AllowPlaintext sends Token to an http:// relay, in the clear.
	AllowPlaintext bool
	// Link tunes heartbeats, timeouts and windows.
	Link link.Options
	// RetryPreferred is how often a link on a fallback transport probes
	// the preferred one, and ends itself once it answers
	// (default DefaultRetryPreferred).
	RetryPreferred time.Duration
	// MinBackoff and MaxBackoff bound the waits between attempts
	// (defaults: those of Backoff, 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	// Hello returns the hello to greet the relay with, on each attempt
	// (a node's subtree changes between attempts).
	Hello func() *pb.Hello
	// Logger receives connection events (default: discarded).
	Logger *slog.Logger
}

// Dialed is an established link with what was learned on the way.
type Dialed struct {
	Link      link.Link
	Hello     *Hello      // the relay's, as read before dialing
	Welcome   *pb.Welcome // the relay's answer to our hello
	Transport Transport   // the one used
}

// Redialer keeps one dialer linked to one relay: it reads the relay's
// hello, lets a Chooser pick the transport, connects, watches for the
// preferred transport to come back while on a fallback, and after a link
// ends dials again, forever, with capped and jittered backoff. A node's
// uplink and the client SDK both use it.
type Redialer struct {
	opts    RedialOptions
	http    *http.Client
	dial    DialOptions
	tlsErr  error
	chooser Chooser // used by the goroutine that dials
}

// NewRedialer returns a Redialer. A TLS setting that cannot be loaded is
// returned by every Dial (and so retried, like an unreachable relay).
func NewRedialer(o RedialOptions) *Redialer {
	if o.RetryPreferred <= 0 {
		o.RetryPreferred = DefaultRetryPreferred
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Hello == nil {
		o.Hello = func() *pb.Hello { return &pb.Hello{} }
	}
	r := &Redialer{opts: o, chooser: Chooser{Pin: o.Transport}}
	tc, err := tlsconf.Client(o.URL, o.TLS)
	r.tlsErr = err
	r.http = tlsconf.HTTPClient(tc)
	r.dial = DialOptions{TLS: tc, Token: o.Token, AllowPlaintext: o.AllowPlaintext, Link: o.Link, HTTP: r.http}
	if err == nil {
		r.tlsErr = tlsconf.CheckToken(o.URL, o.Token, o.AllowPlaintext)
	}
	return r
}

// TLSError reports a TLS setting that could not be loaded.
func (r *Redialer) TLSError() error { return r.tlsErr }

// DialOptions returns how the Redialer reaches the relay (for other
// requests to it, like file transfers).
func (r *Redialer) DialOptions() DialOptions { return r.dial }

// Dial makes one attempt: the hello, the choice of transport, the link.
func (r *Redialer) Dial(ctx context.Context) (*Dialed, error) {
	if r.tlsErr != nil {
		return nil, r.tlsErr
	}
	hctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	h, err := Fetch(hctx, r.http, r.opts.URL)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("reach relay %s: %w", r.opts.URL, err)
	}
	t, err := r.chooser.Choose(h)
	if err != nil {
		return nil, err
	}
	c, w, err := Connect(ctx, r.opts.URL, t, r.opts.Hello(), r.dial)
	if err != nil {
		r.chooser.Failed(h)
		return nil, fmt.Errorf("relay %s over %s: %w", h.ID, t.Name, err)
	}
	r.chooser.Connected()
	return &Dialed{Link: c, Hello: h, Welcome: w, Transport: t}, nil
}

// Events are what Run reports; each may be nil.
type Events struct {
	// Serve serves an established link and returns once it has ended
	// (or ctx is done, after closing it).
	Serve func(ctx context.Context, d *Dialed)
	// Down reports a failed attempt or an ended link, with the wait
	// before the next attempt.
	Down func(err error, wait time.Duration)
	// Preferred reports that the preferred transport answers again (the
	// link on the fallback is being closed to move to it).
	Preferred func(transport string)
}

// Run serves first (when not nil) and then links it dials, one after
// another, until ctx ends. Between two attempts it waits the backoff,
// which starts again from its minimum after every link.
func (r *Redialer) Run(ctx context.Context, first *Dialed, ev Events) {
	backoff := Backoff{Min: r.opts.MinBackoff, Max: r.opts.MaxBackoff}
	d := first
	for ctx.Err() == nil {
		var err error
		if d == nil {
			d, err = r.Dial(ctx)
		}
		if d != nil {
			r.serve(ctx, d, ev)
			backoff.Reset()
			err = fmt.Errorf("link ended: %w", d.Link.Err())
			d = nil
		}
		if ctx.Err() != nil {
			return
		}
		wait := backoff.Next()
		if ev.Down != nil {
			ev.Down(err, wait)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// serve runs ev.Serve for d and, on a fallback transport, probes the
// preferred one meanwhile.
func (r *Redialer) serve(ctx context.Context, d *Dialed, ev Events) {
	var wg sync.WaitGroup
	var back atomic.Bool
	if !r.chooser.OnPreferred(d.Hello) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ReturnToPreferred(ctx, d.Link, d.Hello, r.opts.URL, r.dial, r.opts.RetryPreferred, func() {
				back.Store(true)
				if ev.Preferred != nil {
					ev.Preferred(d.Hello.Prefer)
				}
			})
		}()
	}
	if ev.Serve != nil {
		ev.Serve(ctx, d)
	}
	wg.Wait()
	if back.Load() {
		r.chooser.Reset()
	}
}
