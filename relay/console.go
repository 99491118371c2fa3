package relay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/console"
	"github.com/medrelay/medrelay/relay/store"
	"github.com/medrelay/medrelay/webui"
)

// eventsInterval is how often GET /v1/events sends the network: a child
// whose link ends shows as down within it.
const eventsInterval = time.Second

// mountConsole serves the web console at /ui/ and the two endpoints its
// live pages read, GET /v1/network and GET /v1/events (admin API).
func (r *Relay) mountConsole(mux *http.ServeMux) {
	public := r.cfg.UI.Public
	h, err := console.Handler(r.cfg.ID, r.cfg.Role, r.creds != nil, public)
	if err != nil {
		r.log.Error("web console unavailable", "err", err)
		return
	}
	mux.Handle("GET "+webui.Prefix, h)
	mux.Handle("GET /ui", http.RedirectHandler(webui.Prefix, http.StatusMovedPermanently))
	mux.Handle("GET /{$}", http.RedirectHandler(webui.Prefix, http.StatusFound))
	mux.HandleFunc("GET /v1/network", r.admin(false, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, r.Network()) }))
	mux.HandleFunc("GET /v1/events", r.admin(false, r.serveEvents))
}

// Network returns the relay's view of the tree at and below it.
func (r *Relay) Network() adminapi.Network {
	now := time.Now()
	depths, flows := r.store.Depths(), r.store.Flows()
	n := adminapi.Network{At: now, ID: r.cfg.ID, Role: r.cfg.Role, Relays: []adminapi.NetworkRelay{}, Queues: []adminapi.QueueInfo{}, Clients: []adminapi.ClientStatus{}}
	oldest := make(map[string]time.Time, len(depths))
	var all store.Flow
	for q, f := range flows {
		all.In, all.Out = all.In+f.In, all.Out+f.Out
		if depths[q] == 0 && f.In == 0 {
			continue
		}
		oldest[q] = r.oldestQueued(q)
		n.Queues = append(n.Queues, adminapi.QueueInfo{Name: q, Depth: depths[q], Oldest: oldest[q], In: f.In, Out: f.Out})
	}
	for q, d := range depths { // queues left from an earlier run
		if _, ok := flows[q]; !ok {
			oldest[q] = r.oldestQueued(q)
			n.Queues = append(n.Queues, adminapi.QueueInfo{Name: q, Depth: d, Oldest: oldest[q]})
		}
	}
	sort.Slice(n.Queues, func(i, j int) bool { return n.Queues[i].Name < n.Queues[j].Name })
	st := r.Status()
	n.Parent, n.Clients, n.DeadLetters = st.Parent, st.Clients, st.DeadLetters
	if n.Clients == nil {
		n.Clients = []adminapi.ClientStatus{}
	}
	self := adminapi.NetworkRelay{ID: r.cfg.ID, State: adminapi.RelaySelf, Clients: len(st.Clients), In: all.In, Out: all.Out}
	if st.Parent != nil {
		self.Queue, self.Depth, self.Oldest = string(parentQueue), depths[string(parentQueue)], oldest[string(parentQueue)]
		n.ParentAckMs, n.ParentAckAt = r.acks.get(parentQueue)
	}
	n.Relays = append(n.Relays, self)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, c := range st.Children {
		q := string(childQueue(c.ID))
		child := adminapi.NetworkRelay{ID: c.ID, Via: c.ID, State: adminapi.RelayUp, Transport: c.Transport, Since: c.Since, Queue: q, Depth: depths[q], Oldest: oldest[q], In: flows[q].In, Out: flows[q].Out}
		child.AckMs, child.AckAt = r.acks.get(childQueue(c.ID))
		below := adminapi.RelayReported
		if !c.Connected {
			child.State, below = adminapi.RelayDown, adminapi.RelayUnreachable
			child.Since = r.startedAt
			if t, ok := r.downSince[c.ID]; ok {
				child.Since = t
			}
		}
		n.Relays = append(n.Relays, child)
		for _, id := range c.Subtree {
			if id != c.ID {
				n.Relays = append(n.Relays, adminapi.NetworkRelay{ID: id, Via: c.ID, State: below})
			}
		}
	}
	return n
}

// eventsCache shares one encoded network among the callers of /v1/events
// within half an interval, so that many open consoles cost one snapshot.
type eventsCache struct {
	mu  sync.Mutex
	at  time.Time
	doc []byte
}

func (c *eventsCache) snapshot(network func() adminapi.Network) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doc == nil || time.Since(c.at) > eventsInterval/2 {
		c.doc, _ = json.Marshal(network())
		c.at = time.Now()
	}
	return c.doc
}

// ackTimes keeps, per queue, how long the last batch sent from it took
// to be acknowledged: the round trip to the next hop plus the time it
// took to store the batch durably.
type ackTimes struct {
	mu sync.Mutex
	m  map[Queue]ackTime
}

type ackTime struct {
	d  time.Duration
	at time.Time
}

func (a *ackTimes) note(q Queue, d time.Duration) {
	a.mu.Lock()
	if a.m == nil {
		a.m = make(map[Queue]ackTime)
	}
	a.m[q] = ackTime{d: d, at: time.Now()}
	a.mu.Unlock()
}

// get returns the last acknowledgement time of q in milliseconds and
// when it was measured.
func (a *ackTimes) get(q Queue) (float64, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.m[q]
	return float64(t.d.Microseconds()) / 1000, t.at
}

// oldestQueued returns when the envelope at the head of queue q was made
// (its UUIDv7 id holds the time), or zero.
func (r *Relay) oldestQueued(q string) time.Time {
	es, err := r.store.Read(q, 0, 1, 1<<30)
	if err != nil || len(es) == 0 {
		return time.Time{}
	}
	env, err := envelope.Decode(es[0].Raw)
	if err != nil {
		return time.Time{}
	}
	t, _ := envelope.IDTime(env.Id)
	return t
}

// serveEvents is GET /v1/events: a Server-Sent Events stream of "network"
// events (adminapi.Network as JSON), one now and one every second, until
// the caller leaves.
func (r *Relay) serveEvents(w http.ResponseWriter, req *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	t := time.NewTicker(eventsInterval)
	defer t.Stop()
	for {
		b := r.events.snapshot(r.Network)
		if _, err := fmt.Fprintf(w, "event: network\ndata: %s\n\n", b); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-req.Context().Done():
			return
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
}
