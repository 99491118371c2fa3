package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medrelay/medrelay/link/hello"
	"github.com/medrelay/medrelay/link/tlsconf"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// setupTransport prepares TLS, the token and the transport chooser.
func (c *Client) setupTransport() error {
	tc, err := tlsconf.Client(c.opts.Relay, tlsconf.ClientOptions{CAFile: c.opts.CAFile, CertFile: c.opts.CertFile, KeyFile: c.opts.KeyFile})
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if c.opts.RetryPreferred <= 0 {
		c.opts.RetryPreferred = 5 * time.Minute
	}
	hc := hello.NewHTTPClient(tc)
	c.http = hc
	c.dial = hello.DialOptions{TLS: tc, Token: c.opts.Token, Link: c.opts.Link, HTTP: hc}
	c.chooser = &hello.Chooser{Pin: c.opts.Transport}
	return nil
}

// Transport returns the transport of the current link ("" while connecting).
func (c *Client) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// connect reads the relay's hello and opens one link over the transport
// the chooser picks.
func (c *Client) connect(ctx context.Context) (hello.Link, error) {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	h, err := hello.Fetch(hctx, c.http, c.opts.Relay)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("client: reach relay %s: %w", c.opts.Relay, err)
	}
	t, err := c.chooser.Choose(h)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	conn, _, err := hello.Connect(ctx, c.opts.Relay, t, &pb.Hello{ClientId: c.opts.ID, Receive: c.opts.Receive, MaxBatch: uint32(c.opts.MaxBatch), Version: "sdk"}, c.dial)
	if err != nil {
		c.chooser.Failed(h)
		return nil, fmt.Errorf("client: relay %s over %s: %w", h.ID, t.Name, err)
	}
	c.chooser.Connected()
	c.relay = h.ID
	c.mu.Lock()
	c.transport, c.hello = t.Name, h
	c.mu.Unlock()
	return conn, nil
}

// connLoop serves links one after another until Close.
func (c *Client) connLoop(conn hello.Link) {
	defer c.wg.Done()
	var backoff hello.Backoff
	for {
		c.setConn(conn)
		conn.Run(&receiver{c: c})
		var wg sync.WaitGroup
		var back atomic.Bool
		c.mu.Lock()
		h := c.hello
		c.mu.Unlock()
		if h != nil && !c.chooser.OnPreferred(h) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hello.ReturnToPreferred(c.ctx, conn, h, c.opts.Relay, c.dial, c.opts.RetryPreferred, func() { back.Store(true) })
			}()
		}
		select {
		case <-conn.Done():
			c.opts.Logger.Warn("relay link down", "relay", c.opts.Relay, "err", conn.Err())
		case <-c.ctx.Done():
			// Let the handler in progress finish and its ack go out first.
			<-c.dispatchDone
			conn.Close("client closing")
			wg.Wait()
			c.setConn(nil)
			return
		}
		wg.Wait()
		if back.Load() {
			c.chooser.Reset()
		}
		c.setConn(nil)
		for {
			var err error
			conn, err = c.connect(c.ctx)
			if err == nil {
				backoff.Reset()
				break
			}
			wait := backoff.Next()
			c.opts.Logger.Warn("reconnect", "relay", c.opts.Relay, "err", err, "retry_in", wait)
			select {
			case <-time.After(wait):
			case <-c.ctx.Done():
				return
			}
		}
	}
}
