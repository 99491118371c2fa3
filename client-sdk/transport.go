package client

import (
	"context"
	"fmt"
	"time"

	"github.com/medrelay/medrelay/link/hello"
	"github.com/medrelay/medrelay/link/tlsconf"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// setupTransport prepares the redialer: TLS, the token, the transport
// choice and the hello this client greets its relay with.
func (c *Client) setupTransport() error {
	c.redial = hello.NewRedialer(hello.RedialOptions{
		URL:            c.opts.Relay,
		Transport:      c.opts.Transport,
		TLS:            tlsconf.ClientOptions{CAFile: c.opts.CAFile, CertFile: c.opts.CertFile, KeyFile: c.opts.KeyFile},
		Token:          c.opts.Token,
		AllowPlaintext: c.opts.AllowPlaintext,
		Link:           c.opts.Link,
		RetryPreferred: c.opts.RetryPreferred,
		Hello: func() *pb.Hello {
			return &pb.Hello{ClientId: c.opts.ID, Receive: c.opts.Receive, MaxBatch: uint32(c.opts.MaxBatch), Version: "sdk"}
		},
		Logger: c.opts.Logger,
	})
	if err := c.redial.TLSError(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return nil
}

// Transport returns the transport of the current link ("" while connecting).
func (c *Client) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// connect makes one attempt to link to the relay.
func (c *Client) connect(ctx context.Context) (*hello.Dialed, error) {
	d, err := c.redial.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return d, nil
}

// connLoop serves links one after another until Close.
func (c *Client) connLoop(first *hello.Dialed) {
	defer c.wg.Done()
	c.redial.Run(c.ctx, first, hello.Events{
		Serve: c.serveLink,
		Down: func(err error, wait time.Duration) {
			c.opts.Logger.Warn("relay link down", "relay", c.opts.Relay, "err", err, "retry_in", wait)
		},
	})
}

// serveLink serves one link until it ends or the client closes.
func (c *Client) serveLink(ctx context.Context, d *hello.Dialed) {
	conn := d.Link
	c.mu.Lock()
	c.transport, c.hello = d.Transport.Name, d.Hello
	c.mu.Unlock()
	c.setConn(conn)
	defer c.setConn(nil)
	conn.Run(&receiver{c: c})
	select {
	case <-conn.Done():
	case <-ctx.Done():
		// Let the handler in progress finish and its ack go out first.
		<-c.dispatchDone
		conn.Close("client closing")
	}
}
