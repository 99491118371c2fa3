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
	var set time.Time
	for {
		set = c.refreshDeadline(set, c.s.SetReadDeadline)
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

// writeLoop writes what others queued without writing it themselves
// (acknowledgements, goodbyes) and a heartbeat when the link was quiet.
func (c *Conn) writeLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(c.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-c.wake:
		case <-tick.C:
		case <-c.done:
			return
		}
		c.wmu.Lock()
		if len(c.out) == 0 && time.Since(c.lastWrite) >= c.opts.Heartbeat {
			select {
			case c.out <- &pb.Frame{Msg: &pb.Frame_Heartbeat{Heartbeat: &pb.Heartbeat{}}}:
			default: // filled meanwhile: that is traffic enough
			}
		}
		c.writeQueued()
		c.wmu.Unlock()
	}
}

// writeQueued writes the queued frames, flushing at least every 256 KiB
// and at the end, and ends the link on a write error or after a goodbye.
// The caller holds wmu.
func (c *Conn) writeQueued() {
	for {
		select {
		case <-c.done:
			return
		default:
		}
		var f *pb.Frame
		select {
		case f = <-c.out:
		default:
			return
		}
		bye, err := c.writeSome(f)
		if err != nil {
			c.fail(fmt.Errorf("write: %w", err))
			return
		}
		c.lastWrite = time.Now()
		if bye != "" {
			c.fail(fmt.Errorf("%w: %s", ErrClosed, bye))
			return
		}
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
	c.writeDeadline = c.refreshDeadline(c.writeDeadline, c.s.SetWriteDeadline)
	return bye, c.w.Flush()
}

// refreshDeadline moves a deadline set at set to Timeout from now, but
// only once a quarter of Timeout has passed: setting a deadline costs a
// timer update, and a busy link reads and writes thousands of frames a
// second. A silent peer is still caught between 3/4 Timeout and Timeout
// after its last frame. It returns when the deadline was last set.
func (c *Conn) refreshDeadline(set time.Time, apply func(time.Time) error) time.Time {
	now := time.Now()
	if now.Sub(set) < c.opts.Timeout/4 {
		return set
	}
	apply(now.Add(c.opts.Timeout))
	return now
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
