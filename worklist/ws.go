package worklist

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// Limits of the notification channel.
const (
	sendBatch    = 256              // events read from the file per round
	writeTimeout = 30 * time.Second // per message
	// ackDelay: written events are removed from the queue in one commit
	// once the channel has been idle this long (or sendBatch are written).
	ackDelay = 50 * time.Millisecond
)

// channel is the notification channel (PS3.18 11.11): a WebSocket on
// which every event report queued for the AE is sent as one text message
// of DICOM JSON, oldest first. Events are removed once the subscriber
// has answered a ping sent after them, so a subscriber that reconnects
// receives what it missed before new events; one written just before a
// connection broke may come twice (at least once, in order). A newer
// connection for the same AE replaces an older.
func (s *Service) channel(w http.ResponseWriter, r *http.Request) {
	ae := r.PathValue("aet")
	if !ValidAE(ae) {
		fail(w, badRequest("AE title %q is invalid: 1 to 16 characters, no backslash", ae))
		return
	}
	ctx, release, ok := s.attach(ae)
	if !ok {
		fail(w, &Error{Status: 0xC000, HTTP: http.StatusServiceUnavailable, Comment: "worklist is closing"})
		return
	}
	defer release()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	ctx = c.CloseRead(ctx)
	if err := s.serveChannel(ctx, c, ae); err != nil && ctx.Err() == nil {
		s.log.Info("notification channel ended", "aet", ae, "err", err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func (s *Service) serveChannel(ctx context.Context, c *websocket.Conn, ae string) error {
	wake := s.wakeChan(ae)
	if n, err := s.takeDropped(ae); err != nil {
		return err
	} else if n > 0 {
		msg := Dataset{}
		msg.SetUS(tagEventTypeID, EventSCPStatusChange)
		msg.SetStr(tagErrorComment, "LO", fmt.Sprintf("%d events were not delivered within the retention of %s and were dropped", n, s.o.Retention))
		data, _ := json.Marshal(msg)
		if err := write(ctx, c, data); err != nil {
			return err
		}
	}
	var last, acked uint64
	// ack removes what was written once a ping's pong proves the
	// subscriber has read it (a write alone may sit in a dead socket).
	ack := func() error {
		if last == acked {
			return nil
		}
		pctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		if err := c.Ping(pctx); err != nil {
			return err
		}
		acked = last
		return s.Ack(ae, last)
	}
	defer func() { ack() }()
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	for {
		evs, err := s.Pending(ae, last, sendBatch)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := write(ctx, c, e.Msg); err != nil {
				return err
			}
			last = e.Seq
		}
		if last-acked >= sendBatch {
			if err := ack(); err != nil {
				return err
			}
		}
		if len(evs) > 0 {
			continue
		}
		if last != acked {
			idle.Reset(ackDelay)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle.C:
			if err := ack(); err != nil {
				return err
			}
		case <-wake:
		}
	}
}

func write(ctx context.Context, c *websocket.Conn, msg json.RawMessage) error {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, msg)
}

// attach registers the live channel of ae, ending an older one, and
// returns its context and the function that unregisters it.
func (s *Service) attach(ae string) (context.Context, func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, false
	}
	if old, ok := s.conns[ae]; ok {
		old.cancel()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	h := &conn{cancel: cancel}
	s.conns[ae] = h
	s.wg.Add(1)
	return ctx, func() {
		cancel()
		s.mu.Lock()
		if s.conns[ae] == h {
			delete(s.conns, ae)
		}
		s.mu.Unlock()
		s.wg.Done()
	}, true
}

type conn struct{ cancel context.CancelFunc }
