// Package client is the Go SDK for medrelay applications.
//
// An application dials its own relay with Dial, sends command envelopes to
// any application in the network with Send, and, when it receives, handles
// envelopes with handlers registered per command. Send returns as soon as
// the relay has durably accepted the envelope: it never waits for the
// target, which may be offline for days. The client reconnects by itself
// and resends what was not acknowledged; relays and the SDK dedupe by
// envelope id, so a handler sees each envelope once (across restarts of
// the application only with Options.StateDir set).
//
//	c, err := client.Dial(ctx, client.Options{Relay: "http://county-a:7100", ID: "clinic-12"})
//	id, err := c.Send(ctx, "county-b/radiology", "consult.request", map[string]string{"study": "1.2.3"}, body)
//
// Several connections may use one client id at once. A connection that
// does not set Options.Receive only sends; the relay delivers the inbox to
// one receiving connection at a time.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/hello"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Envelope is a command envelope as handlers receive it.
type Envelope = pb.Envelope

// Handler handles one received envelope. The envelope is acknowledged to
// the relay when the handler returns; an error is logged, not retried.
// ctx ends when the client closes: a handler that then returns an error
// leaves its envelope queued for the client's next connection.
type Handler func(ctx context.Context, env *Envelope) error

// Options configure a Client.
type Options struct {
	// Relay is the base URL of the application's relay, like http://10.1.2.3:7100.
	Relay string
	// ID is the client id under that relay: [a-z0-9-], at most 64 characters.
	ID string
	// Transport is auto (what the relay prefers, the default: after
	// repeated failures it falls back quic → tcp → http, and returns to
	// the preferred one later) or http, tcp or quic to pin one.
	Transport string
	// CAFile verifies the relay's certificate when Relay is https://
	// (default: the system roots).
	CAFile string
	// Token authenticates the client when the relay requires it (see
	// medrelay credentials add). It is sent only to an https:// relay
	// whose certificate verifies, unless AllowPlaintext.
	Token string
	// AllowPlaintext sends Token to an http:// relay, in the clear: only
	// for a test bench whose relay sets auth.allow_plaintext.
	AllowPlaintext bool
	// CertFile and KeyFile, when set, are presented as a client
	// certificate (for relays with tls.client_ca_file).
	CertFile, KeyFile string
	// RetryPreferred is how often a client on a fallback transport tries
	// the relay's preferred one again (default 5m).
	RetryPreferred time.Duration
	// Receive makes this connection take envelopes from the client's inbox.
	// Register handlers with Handle; envelopes wait, unacknowledged, until
	// a handler for their command (or a default handler) is registered.
	Receive bool
	// MaxBatch limits envelopes per received batch (0: the relay's default).
	MaxBatch int
	// TTL is how long sent envelopes live before they expire (0: the
	// relay's limit, 7 days by default).
	TTL time.Duration
	// OutboxDir, when set, holds a local outbox (the bbolt file
	// outbox.db, see OutboxFile): Send
	// returns as soon as the envelope is on the application's own disk, and
	// the client forwards it to the relay, in order, whenever it is
	// connected. Sends then survive a lost link and a crash of the
	// application. Default "": Send waits for the relay to store it.
	OutboxDir string
	// StateDir keeps the progress of file uploads (SendFiles), so an
	// upload cut short by a crash or a lost link resumes with the missing
	// parts only. With Receive, it also keeps the ids of the envelopes
	// whose handler ran (the bbolt file handled.db, see HandledFile),
	// written to disk before the relay is acknowledged, so a batch a
	// relay delivers again after it crashed is not handled again by a
	// restarted application. Default "": uploads restart from the first
	// byte, and the handled ids are remembered in memory only, so "a
	// handler sees each envelope once" holds only while the application
	// runs. A receiving client needs a StateDir of its own.
	StateDir string
	// Logger receives connection events (default: discard).
	Logger *slog.Logger
	// Link tunes heartbeats and windows (defaults: see link.Options).
	Link link.Options
}

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("client closed")

// Client is a connection of one application to its relay.
type Client struct {
	opts   Options
	relay  string // the relay's id, learned from its hello
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	sends    chan *sendReq
	lostMu   sync.Mutex
	lost     []*sendReq    // sends lost with a link, to send again first
	lostKick chan struct{} // wakes sendLoop when sends were lost
	outbox   *outbox       // nil unless Options.OutboxDir
	handled  *handledLog   // nil unless Options.StateDir and Receive

	mu       sync.Mutex
	conn     link.Link
	connCh   chan struct{} // closed and replaced when conn changes
	handlers map[string]Handler
	handlerC chan struct{}
	state    string
	seen     *recentIDs

	redial    *hello.Redialer
	transport string       // of the current link
	hello     *hello.Hello // the relay's, as last read

	deliveries   chan delivery
	dispatchDone chan struct{}
}

// Dial connects to the relay and starts the client. It fails when the
// relay cannot be reached now; once dialed, the client reconnects by itself.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	if opts.Relay == "" {
		return nil, errors.New("client: Options.Relay is required: the relay's URL, like http://127.0.0.1:7100")
	}
	if !envelope.ValidID(opts.ID) {
		return nil, fmt.Errorf("client: id %q is invalid: use lower-case letters, digits and '-', at most 64 characters", opts.ID)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Transport == "" {
		opts.Transport = "auto"
	}
	c := &Client{
		opts:         opts,
		sends:        make(chan *sendReq, 1024),
		lostKick:     make(chan struct{}, 1),
		connCh:       make(chan struct{}),
		handlers:     make(map[string]Handler),
		handlerC:     make(chan struct{}),
		seen:         newRecentIDs(100000),
		deliveries:   make(chan delivery, 256),
		dispatchDone: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.setupTransport(); err != nil {
		c.cancel()
		return nil, err
	}
	first, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.relay = first.Hello.ID
	if opts.OutboxDir != "" {
		if c.outbox, err = openOutbox(opts.OutboxDir); err != nil {
			first.Link.Close("client failed to start")
			c.cancel()
			return nil, err
		}
		c.wg.Add(1)
		go c.forwardOutbox()
	}
	if opts.StateDir != "" && opts.Receive {
		if c.handled, err = openHandled(opts.StateDir); err != nil {
			first.Link.Close("client failed to start")
			c.cancel()
			if c.outbox != nil {
				c.wg.Wait()
				c.outbox.close()
			}
			return nil, err
		}
	}
	c.wg.Add(3)
	go c.connLoop(first)
	go c.sendLoop()
	go c.dispatchLoop()
	return c, nil
}

// Relay returns the id of the relay the client is attached to.
func (c *Client) Relay() string { return c.relay }

// Address returns the client's own address, relay/client.
func (c *Client) Address() string { return c.relay + "/" + c.opts.ID }

// Close ends the connection. The envelope being handled finishes first
// and is acknowledged; sends still waiting fail with ErrClosed.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	var err error
	if c.handled != nil {
		err = c.handled.close()
	}
	if c.outbox != nil {
		err = errors.Join(err, c.outbox.close())
	}
	return err
}

// State reports "connected" or "connecting".
func (c *Client) State() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Client) setConn(conn link.Link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = conn
	c.state = "connecting"
	if conn != nil {
		c.state = "connected"
	}
	close(c.connCh)
	c.connCh = make(chan struct{})
}

// currentConn returns the live link, waiting for one.
func (c *Client) currentConn(ctx context.Context) (link.Link, error) {
	for {
		c.mu.Lock()
		conn, ch := c.conn, c.connCh
		c.mu.Unlock()
		if conn != nil {
			select {
			case <-conn.Done():
			default:
				return conn, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
