package link

import (
	"context"
	"time"
)

// Link is an established link of any transport, as the relay's routing
// core, a node's uplink and the client SDK use it: a Conn on a TCP or QUIC
// stream, or either end of an HTTP link (package httplink). It is declared
// here, in the one package all of them share, and nowhere else.
type Link interface {
	// Run hands what the peer sends to h.
	Run(h Handler)
	// SendAsync sends a batch; cb gets the peer's acknowledgement or the
	// error that ended the link. When SendAsync returns an error, cb
	// never runs.
	SendAsync(ctx context.Context, envs [][]byte, cb AckFunc) error
	// Announce tells the parent this relay's subtree (links to a parent only).
	Announce(subtree []string) error
	Done() <-chan struct{}
	Err() error
	Close(reason string) error
}

var _ Link = (*Conn)(nil)

// Defaults of Options, shared by every transport.
const (
	// DefaultHeartbeat is how often a frame goes out on an idle link.
	DefaultHeartbeat = time.Second
	// DefaultTimeout is how long a silent link lives (an HTTP session
	// without requests expires after it too).
	DefaultTimeout = 5 * time.Second
	// DefaultWindow is how many batches may wait for acknowledgement.
	DefaultWindow = 64
)

// WithDefaults returns o with its zero fields set to the defaults
// (MaxFrame is left to the frame codec).
func (o Options) WithDefaults() Options {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	return o
}
