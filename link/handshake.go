package link

import (
	"errors"
	"fmt"
	"time"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// HandshakeTimeout bounds each step of the handshake.
const HandshakeTimeout = 10 * time.Second

// ErrRefused reports that the relay refused the dialer's Hello.
var ErrRefused = errors.New("refused by relay")

// Greet is the dialing side of the handshake: it sends hello and waits for
// the relay's Welcome.
func (c *Conn) Greet(hello *pb.Hello) (*pb.Welcome, error) {
	if err := c.WriteFrame(&pb.Frame{Msg: &pb.Frame_Hello{Hello: hello}}, HandshakeTimeout); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	f, err := c.ReadFrame(HandshakeTimeout)
	if err != nil {
		return nil, fmt.Errorf("read welcome: %w", err)
	}
	switch m := f.Msg.(type) {
	case *pb.Frame_Welcome:
		return m.Welcome, nil
	case *pb.Frame_Goodbye:
		return nil, fmt.Errorf("%w: %s", ErrRefused, m.Goodbye.Reason)
	default:
		return nil, fmt.Errorf("%w: expected welcome, got %T", ErrProtocol, f.Msg)
	}
}

// AwaitHello is the accepting side's first step: it reads the dialer's Hello.
func (c *Conn) AwaitHello() (*pb.Hello, error) {
	if c.opts.MaxHello > 0 {
		c.r.SetMax(c.opts.MaxHello)
		defer c.r.SetMax(c.opts.MaxFrame)
	}
	f, err := c.ReadFrame(HandshakeTimeout)
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	h, ok := f.Msg.(*pb.Frame_Hello)
	if !ok {
		return nil, fmt.Errorf("%w: expected hello, got %T", ErrProtocol, f.Msg)
	}
	return h.Hello, nil
}

// Welcome accepts the dialer's Hello.
func (c *Conn) Welcome(w *pb.Welcome) error {
	return c.WriteFrame(&pb.Frame{Msg: &pb.Frame_Welcome{Welcome: w}}, HandshakeTimeout)
}

// Refuse tells the dialer why its Hello was refused and closes the stream.
func (c *Conn) Refuse(reason string) {
	c.WriteFrame(&pb.Frame{Msg: &pb.Frame_Goodbye{Goodbye: &pb.Goodbye{Reason: reason}}}, time.Second)
	c.s.Close()
}
