package relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// childLink is a connected child relay.
type childLink struct {
	conn      link.Link
	transport string
	since     time.Time
	subtree   []string
}

func (r *Relay) acceptLoop(ln net.Listener, transport string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Warn("accept", "transport", transport, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		r.goRun(func() { r.serveStream(c.(link.Stream), transport, c.RemoteAddr().String()) })
	}
}

// serveStream runs the accepting side of one link until it ends.
func (r *Relay) serveStream(s link.Stream, transport, remote string) {
	c := link.New(s, r.opts)
	h, err := c.AwaitHello()
	if err != nil {
		r.log.Warn("link refused", "remote", remote, "transport", transport, "reason", err.Error())
		s.Close()
		return
	}
	if err := r.admit(h, h.Token, connState(s)); err != nil {
		r.log.Warn("link refused", "remote", remote, "transport", transport, "reason", err.Error())
		c.Refuse(err.Error())
		return
	}
	if err := c.Welcome(&pb.Welcome{RelayId: r.cfg.ID, Role: r.cfg.Role, Version: Version, Ancestors: r.ancestors()}); err != nil {
		s.Close()
		return
	}
	r.serveLink(c, h, transport)
}

// connState returns the TLS state of a stream, or nil.
func connState(s link.Stream) *tls.ConnectionState {
	if t, ok := s.(interface{ ConnectionState() tls.ConnectionState }); ok {
		cs := t.ConnectionState()
		return &cs
	}
	return nil
}

// serveLink serves an admitted link of any transport until it ends.
func (r *Relay) serveLink(c link.Link, h *pb.Hello, transport string) {
	if !r.track(c) {
		return
	}
	defer r.untrack(c)
	if h.RelayId != "" {
		r.serveChild(c, h, transport)
	} else {
		r.serveClient(c, h, transport)
	}
	c.Close("done")
}

func (r *Relay) checkHello(h *pb.Hello) error {
	switch {
	case h.RelayId != "" && h.ClientId != "":
		return errors.New("hello names both a relay and a client")
	case h.RelayId == "" && h.ClientId == "":
		return errors.New("hello names neither a relay nor a client")
	case h.ClientId != "" && !envelope.ValidID(h.ClientId):
		return fmt.Errorf("client id %q is invalid: use [a-z0-9-], at most 64 characters", h.ClientId)
	case h.RelayId != "" && !envelope.ValidID(h.RelayId):
		return fmt.Errorf("relay id %q is invalid", h.RelayId)
	case h.RelayId == r.cfg.ID:
		return fmt.Errorf("relay id %q is this relay's own id", h.RelayId)
	case h.RelayId != "" && !slices.Contains(h.Subtree, h.RelayId):
		return fmt.Errorf("child %s must announce itself in its subtree", h.RelayId)
	}
	for _, id := range h.Subtree {
		if !envelope.ValidID(id) || id == r.cfg.ID {
			return fmt.Errorf("subtree entry %q is invalid", id)
		}
	}
	return nil
}

func (r *Relay) serveChild(c link.Link, h *pb.Hello, transport string) {
	id := h.RelayId
	if err := r.setSubtree(id, h.Subtree); err != nil {
		r.log.Error("store routes", "child", id, "err", err)
		return
	}
	cl := &childLink{conn: c, transport: transport, since: time.Now(), subtree: h.Subtree}
	r.mu.Lock()
	old := r.children[id]
	r.children[id] = cl
	r.mu.Unlock()
	if old != nil {
		old.conn.Close("replaced by a new link from the same child")
	}
	r.log.Info("child connected", "child", id, "transport", transport, "subtree", h.Subtree)
	c.Run(&peerHandler{r: r, p: peer{kind: peerChild, id: id}, conn: c, child: cl})
	r.pump(childQueue(id), c, 0)
	<-c.Done()
	r.mu.Lock()
	if r.children[id] == cl {
		delete(r.children, id)
	}
	r.mu.Unlock()
	r.log.Info("child disconnected", "child", id, "reason", errString(c.Err()))
}

// setSubtree records a child's subtree and tells this relay's parent. A
// relay that was routed through another child (a route that child no
// longer holds, or held by a false claim) moves to this one with the
// envelopes queued for it, in their order.
func (r *Relay) setSubtree(child string, subtree []string) error {
	r.mu.Lock()
	mine := make(map[string]bool, len(subtree))
	took := make(map[string]bool) // children that held a relay of subtree
	for _, rel := range subtree {
		mine[rel] = true
		if via, ok := r.routes[rel]; ok && via != child {
			took[via] = true
		}
	}
	for rel, via := range r.routes {
		if via == child && !mine[rel] {
			delete(r.routes, rel)
		}
	}
	for _, rel := range subtree {
		r.routes[rel] = child
	}
	up := r.upConn
	r.mu.Unlock()
	moved := 0
	err := r.store.Update(func(tx *store.Tx) error {
		if err := tx.SetSubtree(child, subtree); err != nil {
			return err
		}
		for old := range took {
			n, err := tx.Move(string(childQueue(old)), func(raw []byte) string {
				env, err := envelope.Decode(raw)
				if err != nil || !mine[env.GetTo().GetRelay()] {
					return ""
				}
				return string(childQueue(child))
			})
			if err != nil {
				return err
			}
			moved += n
		}
		return nil
	})
	if err != nil {
		return err
	}
	if moved > 0 {
		r.log.Warn("route moved: queued envelopes follow it", "child", child, "from", keys(took), "moved", moved)
	}
	if up != nil {
		up.Announce(r.subtree())
	}
	return nil
}

// reroute returns the child queue that holds target's relay now, when q
// is a child queue and the route moved since q was chosen. It runs on the
// store's writer: setSubtree changes the routes before it submits the
// move of the queued envelopes, so an envelope is either moved with them
// or stored where the route is now, never left behind.
func (r *Relay) reroute(q Queue, to *pb.Address) Queue {
	if !strings.HasPrefix(string(q), "child/") {
		return q
	}
	r.mu.RLock()
	via, ok := r.routes[to.GetRelay()]
	r.mu.RUnlock()
	if ok {
		return childQueue(via)
	}
	return q
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
