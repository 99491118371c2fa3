package link

import (
	"errors"
	"fmt"
	"time"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// ErrPeerGoodbye reports that the peer closed the link with a reason.
var ErrPeerGoodbye = errors.New("peer closed the link")

// ErrProtocol reports a frame that makes no sense at this point.
var ErrProtocol = errors.New("link protocol error")

func (c *Conn) readLoop(h Handler) {
	defer c.wg.Done()
	for {
		c.s.SetReadDeadline(time.Now().Add(c.opts.Timeout))
		f, err := c.r.Read()
		if err != nil {
			select {
			case <-c.done:
			default:
				if isTimeout(err) {
					err = fmt.Errorf("peer silent for %v: %w", c.opts.Timeout, err)
				}
			}
			c.fail(err)
			return
		}
		if err := c.dispatch(f, h); err != nil {
			c.fail(err)
			return
		}
	}
}

func (c *Conn) dispatch(f *pb.Frame, h Handler) error {
	switch m := f.Msg.(type) {
	case *pb.Frame_Batch:
		seq := m.Batch.Seq
		var once bool
		h.Batch(m.Batch, func(rejected []*pb.Rejection) {
			if once {
				return
			}
			once = true
			c.ack(seq, rejected)
		})
	case *pb.Frame_Ack:
		c.mu.Lock()
		cb, ok := c.pending[m.Ack.Seq]
		delete(c.pending, m.Ack.Seq)
		c.mu.Unlock()
		if !ok {
			return fmt.Errorf("%w: ack for unknown batch %d", ErrProtocol, m.Ack.Seq)
		}
		<-c.window
		cb(m.Ack, nil)
	case *pb.Frame_Heartbeat:
	case *pb.Frame_Announce:
		h.Announce(m.Announce.Subtree)
	case *pb.Frame_Goodbye:
		return fmt.Errorf("%w: %s", ErrPeerGoodbye, m.Goodbye.Reason)
	default:
		return fmt.Errorf("%w: unexpected %T after the handshake", ErrProtocol, f.Msg)
	}
	return nil
}

func (c *Conn) writeLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(c.opts.Heartbeat)
	defer tick.Stop()
	lastWrite := time.Now()
	for {
		var f *pb.Frame
		select {
		case f = <-c.out:
		case <-tick.C:
			if time.Since(lastWrite) < c.opts.Heartbeat {
				continue
			}
			f = &pb.Frame{Msg: &pb.Frame_Heartbeat{Heartbeat: &pb.Heartbeat{}}}
		case <-c.done:
			return
		}
		bye, err := c.writeSome(f)
		if err != nil {
			c.fail(fmt.Errorf("write: %w", err))
			return
		}
		if bye != "" {
			c.fail(fmt.Errorf("%w: %s", ErrClosed, bye))
			return
		}
		lastWrite = time.Now()
	}
}

// writeSome writes f and whatever else is queued, then flushes once. It
// stops after a goodbye and returns its reason.
func (c *Conn) writeSome(f *pb.Frame) (bye string, err error) {
	for {
		if err := c.w.Write(f); err != nil {
			return "", err
		}
		if g, ok := f.Msg.(*pb.Frame_Goodbye); ok {
			bye = g.Goodbye.Reason
			break
		}
		if c.w.Buffered() > 256<<10 {
			break
		}
		select {
		case f = <-c.out:
			continue
		default:
		}
		break
	}
	c.s.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	return bye, c.w.Flush()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
