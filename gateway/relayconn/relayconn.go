// Package relayconn is the gateway's connection to its relay through the
// client SDK: it dials (and keeps dialing until the relay answers),
// registers the gateway's command handlers, sends envelopes with ids the
// gateway chose (so a send repeated after a crash is deduped by the
// relays), and moves instance files to and from the relay's file store.
//
// It is the only package of the gateway that imports the SDK.
package relayconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	client "github.com/medrelay/medrelay/client-sdk"
	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Message is an envelope the gateway sends.
type Message struct {
	ID          string // required: made by NewID and persisted before sending
	To          string // relay/client
	Command     string
	Args        map[string]string
	Body        []byte
	Files       []*pb.FileRef
	Correlation string
}

// NewID makes an envelope id (UUIDv7, as the SDK does).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Options configure a Conn.
type Options struct {
	Relay, ID, Transport, CAFile, Token string
	// StateDir keeps resumable upload progress.
	StateDir string
	// Proxy streams files through the relay even when direct is offered.
	Proxy bool
	// Handlers by command, registered before the first envelope is taken.
	Handlers map[string]client.Handler
	Logger   *slog.Logger
}

// Conn is the gateway's relay client. Methods fail with ErrNotConnected
// until the first dial succeeds.
type Conn struct {
	opts  Options
	ready atomic.Bool

	mu sync.Mutex
	c  *client.Client
	up *client.Uploader
}

// ErrNotConnected is returned before the relay has been reached once.
var ErrNotConnected = errors.New("relay not reached yet")

// New returns a Conn; Run dials it.
func New(opts Options) *Conn {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Conn{opts: opts}
}

// Run dials until it succeeds or ctx ends, then waits for ctx and closes.
func (c *Conn) Run(ctx context.Context) {
	delay := 200 * time.Millisecond
	for {
		cl, err := client.Dial(ctx, client.Options{Relay: c.opts.Relay, ID: c.opts.ID, Transport: c.opts.Transport,
			CAFile: c.opts.CAFile, Token: c.opts.Token, Receive: true, StateDir: c.opts.StateDir, Logger: c.opts.Logger})
		if err == nil {
			for cmd, h := range c.opts.Handlers {
				cl.Handle(cmd, h)
			}
			c.mu.Lock()
			c.c = cl
			c.mu.Unlock()
			c.ready.Store(true)
			c.opts.Logger.Info("relay connected", "relay", c.opts.Relay, "address", cl.Address())
			break
		}
		c.opts.Logger.Warn("relay not reachable; retrying", "relay", c.opts.Relay, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
	<-ctx.Done()
	c.mu.Lock()
	cl := c.c
	c.mu.Unlock()
	cl.Close()
}

// Ready reports whether the relay was reached and the link is up.
func (c *Conn) Ready() bool {
	cl := c.client()
	return cl != nil && cl.State() == "connected"
}

func (c *Conn) client() *client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}

// Self returns the gateway's relay id and client id ("" before the
// relay is reached).
func (c *Conn) Self() (relay, id string) {
	cl := c.client()
	if cl == nil {
		return "", c.opts.ID
	}
	return cl.Relay(), c.opts.ID
}

// Send sends m and returns once the relay has stored it.
func (c *Conn) Send(ctx context.Context, m Message) error {
	cl := c.client()
	if cl == nil {
		return ErrNotConnected
	}
	rel, id, ok := strings.Cut(m.To, "/")
	if !ok {
		return fmt.Errorf("send %s: address %q is not relay/client", m.Command, m.To)
	}
	e := &pb.Envelope{Id: m.ID, To: &pb.Address{Relay: rel, Client: id}, Command: m.Command, Args: m.Args,
		Body: m.Body, Files: m.Files, CorrelationId: m.Correlation, CreatedAt: timestamppb.Now(), Kind: pb.Kind_KIND_COMMAND}
	if _, err := cl.SendEnvelope(ctx, e); err != nil {
		return fmt.Errorf("send %s to %s: %w", m.Command, m.To, err)
	}
	return nil
}

func (c *Conn) uploader(ctx context.Context) (*client.Uploader, error) {
	cl := c.client()
	if cl == nil {
		return nil, ErrNotConnected
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up == nil {
		up, err := cl.NewUploader(ctx, client.TransferOptions{Proxy: c.opts.Proxy, Concurrency: 2})
		if err != nil {
			return nil, err
		}
		c.up = up
	}
	return c.up, nil
}

// Upload puts a file in the relay's file store under key.
func (c *Conn) Upload(ctx context.Context, path, key, mediaType string) (*pb.FileRef, error) {
	up, err := c.uploader(ctx)
	if err != nil {
		return nil, err
	}
	return up.Upload(ctx, path, key, mediaType)
}

// Delete removes an object the gateway uploaded.
func (c *Conn) Delete(ctx context.Context, key string) error {
	up, err := c.uploader(ctx)
	if err != nil {
		return err
	}
	return up.Delete(ctx, key)
}

// Download fetches ref to path, verifying its size and SHA-256 (a
// ".partial" file is resumed by the next call).
func (c *Conn) Download(ctx context.Context, ref *pb.FileRef, path string) error {
	cl := c.client()
	if cl == nil {
		return ErrNotConnected
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	_, err := cl.Download(ctx, ref, path, nil, client.TransferOptions{Proxy: c.opts.Proxy})
	return err
}
