package relay

import (
	"slices"

	"github.com/medrelay/medrelay/link"
	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// inbox is a local client's queue and the connections that may receive
// from it. One receiving connection at a time takes envelopes; when it
// ends, the next one takes over from the first unacknowledged envelope.
type inbox struct {
	receivers []receiver
	senders   int
	active    link.Link
	links     map[string]int // connected links by transport
}

// transportNames returns the transports of connected links, sorted.
func (in *inbox) transportNames() []string {
	out := []string{}
	for t, n := range in.links {
		if n > 0 {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// receiver is a connection that takes envelopes from an inbox.
type receiver struct {
	conn     link.Link
	maxBatch int
}

func (r *Relay) serveClient(c link.Link, h *pb.Hello, transport string) {
	id := h.ClientId
	r.mu.Lock()
	in := r.inboxes[id]
	if in == nil {
		in = &inbox{links: map[string]int{}}
		r.inboxes[id] = in
	}
	in.links[transport]++
	if h.Receive {
		in.receivers = append(in.receivers, receiver{c, int(h.MaxBatch)})
	} else {
		in.senders++
	}
	r.mu.Unlock()
	r.log.Info("client connected", "client", id, "transport", transport, "receive", h.Receive)
	c.Run(&peerHandler{r: r, p: peer{kind: peerClient, id: id}, conn: c})
	if h.Receive {
		r.nextReceiver(id)
	}
	<-c.Done()
	r.mu.Lock()
	if h.Receive {
		in.receivers = slices.DeleteFunc(in.receivers, func(x receiver) bool { return x.conn == c })
	} else {
		in.senders--
	}
	in.links[transport]--
	wasActive := in.active == c
	if wasActive {
		in.active = nil
	}
	// A client with no link left is forgotten, so that the map does not
	// grow with every id that ever connected; its queue stays on disk.
	if in.senders == 0 && len(in.receivers) == 0 && in.active == nil && r.inboxes[id] == in {
		delete(r.inboxes, id)
		wasActive = false
	}
	r.mu.Unlock()
	if wasActive {
		r.nextReceiver(id)
	}
	r.log.Info("client disconnected", "client", id, "reason", errString(c.Err()))
}

// nextReceiver starts delivering id's inbox on a receiving connection when
// none is delivering.
func (r *Relay) nextReceiver(id string) {
	r.mu.Lock()
	in := r.inboxes[id]
	if in == nil || in.active != nil || len(in.receivers) == 0 {
		r.mu.Unlock()
		return
	}
	rc := in.receivers[0]
	in.active = rc.conn
	r.mu.Unlock()
	r.goRun(func() { r.pump(clientQueue(id), rc.conn, rc.maxBatch) })
}
