package relay

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/link/hello"
	"github.com/medrelay/medrelay/relay/audit"
	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/store"
)

func (r *Relay) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+hello.Path, r.serveHello)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", r.serveReady)
	mux.HandleFunc("GET /metrics", r.admin(false, r.serveMetrics))
	mux.HandleFunc("GET /v1/status", r.admin(false, r.serveStatus))
	mux.HandleFunc("GET /v1/audit", r.admin(false, r.serveAudit))
	mux.HandleFunc("GET /v1/audit/verify", r.admin(false, r.serveAuditVerify))
	mux.HandleFunc("GET /v1/deadletters", r.admin(false, r.serveDeadLetters))
	mux.HandleFunc("POST /v1/deadletters/{seq}/replay", r.admin(true, r.serveReplay))
	mux.Handle(FilesPrefix, r.fileHandler())
	r.httpLink.Register(mux)
	return mux
}

// Hello returns what /v1/hello serves.
func (r *Relay) Hello() hello.Hello {
	h := hello.Hello{ID: r.cfg.ID, Role: r.cfg.Role, Version: Version, Prefer: r.cfg.Listen.Prefer, Transports: []hello.Transport{}, TLS: r.tls != nil, Auth: r.creds != nil, MaxBodyBytes: r.cfg.Limits.MaxBodyBytes}
	if r.quicLn != nil {
		h.Transports = append(h.Transports, hello.Transport{Name: "quic", Addr: r.QUICAddr()})
	}
	if r.tcpLn != nil {
		h.Transports = append(h.Transports, hello.Transport{Name: "tcp", Addr: r.TCPAddr()})
	}
	h.Transports = append(h.Transports, hello.Transport{Name: "http", Addr: r.HTTPAddr()})
	return h
}

func (r *Relay) serveHello(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, r.Hello())
}

func (r *Relay) serveReady(w http.ResponseWriter, _ *http.Request) {
	if why := r.storeProblem(); why != "" {
		http.Error(w, why, http.StatusServiceUnavailable)
		return
	}
	if r.uplink != nil {
		if up := r.uplink.State(); up.State != "connected" {
			http.Error(w, "parent link is "+up.State, http.StatusServiceUnavailable)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}

// storeProblem says why the relay cannot store what it acknowledges, or
// returns "": acknowledged batches that wait for the store, or a store
// whose last commit failed.
func (r *Relay) storeProblem() string {
	if n, why := r.intake.unapplied(); n > 0 {
		return fmt.Sprintf("store: %d acknowledged client batches wait to be applied from the intake journal: %s", n, why)
	}
	if e := r.store.Stats().CommitError; e != "" {
		return "store: the last commit failed: " + e
	}
	return ""
}

// Status returns a snapshot of the relay's links and queues.
func (r *Relay) Status() adminapi.Status {
	st := adminapi.Status{ID: r.cfg.ID, Role: r.cfg.Role, Version: Version, Queues: r.store.Depths()}
	cs := r.store.Stats()
	st.Commits, st.CommitLast = cs.Commits, cs.LastLatency.String()
	if cs.Commits > 0 {
		st.CommitAvg = (cs.TotalLatency / time.Duration(cs.Commits)).String()
		st.CommitGroup = math.Round(float64(cs.Submissions)/float64(cs.Commits)*10) / 10
	}
	st.Journal, st.JournalBatches, st.JournalBypassed = r.intake.status()
	st.JournalUnapplied, _ = r.intake.unapplied()
	st.StoreError = cs.CommitError
	r.mu.RLock()
	if r.uplink != nil {
		up := r.uplink.State()
		st.Parent = &up
	}
	subtrees := make(map[string][]string)
	for rel, via := range r.routes {
		subtrees[via] = append(subtrees[via], rel)
	}
	for id, sub := range subtrees {
		c := adminapi.ChildStatus{ID: id, Subtree: sub}
		sort.Strings(c.Subtree)
		if cl := r.children[id]; cl != nil {
			c.Connected, c.Transport, c.Since = true, cl.transport, cl.since
		}
		st.Children = append(st.Children, c)
	}
	for id, in := range r.inboxes {
		st.Clients = append(st.Clients, adminapi.ClientStatus{ID: id, Receivers: len(in.receivers), Senders: in.senders, Transports: in.transportNames()})
	}
	r.mu.RUnlock()
	sort.Slice(st.Children, func(i, j int) bool { return st.Children[i].ID < st.Children[j].ID })
	sort.Slice(st.Clients, func(i, j int) bool { return st.Clients[i].ID < st.Clients[j].ID })
	st.DeadLetters = r.store.DeadLetterCount()
	st.Connections = r.limiter.open()
	return st
}

// StoreStats returns the store's commit statistics.
func (r *Relay) StoreStats() store.CommitStats { return r.store.Stats() }

func (r *Relay) serveStatus(w http.ResponseWriter, _ *http.Request) { writeJSON(w, r.Status()) }

func (r *Relay) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	st := r.Status()
	cs := r.store.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# TYPE medrelay_queue_depth gauge\n")
	for q, n := range st.Queues {
		fmt.Fprintf(w, "medrelay_queue_depth{queue=%q} %d\n", q, n)
	}
	fmt.Fprintf(w, "# TYPE medrelay_commits_total counter\nmedrelay_commits_total %d\n", cs.Commits)
	fmt.Fprintf(w, "# TYPE medrelay_commit_submissions_total counter\nmedrelay_commit_submissions_total %d\n", cs.Submissions)
	fmt.Fprintf(w, "# TYPE medrelay_commit_latency_max_seconds gauge\nmedrelay_commit_latency_max_seconds %g\n", cs.MaxLatency.Seconds())
	fmt.Fprintf(w, "# TYPE medrelay_dead_letters gauge\nmedrelay_dead_letters %d\n", st.DeadLetters)
	fmt.Fprintf(w, "# TYPE medrelay_connections_open gauge\nmedrelay_connections_open %d\n", st.Connections)
	storeOK := 1
	if st.StoreError != "" {
		storeOK = 0
	}
	fmt.Fprintf(w, "# TYPE medrelay_store_ok gauge\nmedrelay_store_ok %d\n", storeOK)
	fmt.Fprintf(w, "# TYPE medrelay_journal_unapplied gauge\nmedrelay_journal_unapplied %d\n", st.JournalUnapplied)
	journalOK := 1
	if st.Journal != "ok" && st.Journal != "off" {
		journalOK = 0
	}
	fmt.Fprintf(w, "# TYPE medrelay_journal_ok gauge\nmedrelay_journal_ok %d\n", journalOK)
	up := 0
	if st.Parent != nil && st.Parent.State == "connected" {
		up = 1
	}
	fmt.Fprintf(w, "# TYPE medrelay_parent_connected gauge\nmedrelay_parent_connected %d\n", up)
	fmt.Fprintf(w, "# TYPE medrelay_children_connected gauge\n")
	n := 0
	for _, c := range st.Children {
		if c.Connected {
			n++
		}
	}
	fmt.Fprintf(w, "medrelay_children_connected %d\n", n)
}

func (r *Relay) serveAudit(w http.ResponseWriter, req *http.Request) {
	if r.cfg.Role != config.RoleMain {
		http.Error(w, "the audit log is kept by main; ask the main relay", http.StatusNotFound)
		return
	}
	q, err := audit.ParseQuery(req.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	recs, err := r.Audit(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, rec := range recs {
		enc.Encode(rec)
	}
}

// serveAuditVerify recomputes main's audit hash chain.
func (r *Relay) serveAuditVerify(w http.ResponseWriter, _ *http.Request) {
	if r.cfg.Role != config.RoleMain {
		http.Error(w, "the audit log is kept by main; ask the main relay", http.StatusNotFound)
		return
	}
	res, err := audit.Verify(r.store.AuditLog)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, res)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// fromLoopback reports whether req came from the relay's own machine,
// where what changes a relay's state is allowed.
func fromLoopback(req *http.Request) bool {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}
