package relay

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/internal/histo"
)

// /metrics: the packages keep snapshots (store.CommitStats, store.Counts,
// journal.Stats, linkStats); the collector here turns them into metrics
// at each scrape, so the hot paths only count. docs/metrics.md lists them.

var (
	mQueueDepth      = desc("medrelay_queue_depth", "Envelopes waiting in a queue.", "queue")
	mQueueOldest     = desc("medrelay_queue_oldest_age_seconds", "Age of a queue's oldest envelope, from the time in its id.", "queue")
	mCommits         = desc("medrelay_commits_total", "Store group commits.")
	mSubmissions     = desc("medrelay_commit_submissions_total", "Submissions the store's group commits carried.")
	mCommitMax       = desc("medrelay_commit_latency_max_seconds", "Longest store commit since the relay started.")
	mCommitLatency   = desc("medrelay_commit_latency_seconds", "Time of each store group commit.")
	mCommitGroup     = desc("medrelay_commit_group_size", "Submissions per store group commit.")
	mDead            = desc("medrelay_dead_letters", "Dead letters the store holds.")
	mDeadByReason    = desc("medrelay_dead_letters_by_reason", "Dead letters the store holds, by reason.", "reason")
	mAudit           = desc("medrelay_audit_records", "Audit records the store holds.")
	mConns           = desc("medrelay_connections_open", "Open link connections.")
	mStoreOK         = desc("medrelay_store_ok", "1 when the last store commit succeeded, else 0.")
	mJournalUnapp    = desc("medrelay_journal_unapplied", "Acknowledged client batches waiting for the store.")
	mJournalOK       = desc("medrelay_journal_ok", "1 when the intake journal is in use or off, 0 when failed or stalled.")
	mJournalUsed     = desc("medrelay_journal_used_bytes", "Bytes written in the intake journal's active segment.")
	mJournalSize     = desc("medrelay_journal_segment_bytes", "Size of each intake journal segment.")
	mJournalFsync    = desc("medrelay_journal_fsync_seconds", "Time of each intake journal fdatasync.")
	mParentConnected = desc("medrelay_parent_connected", "1 when the link to the parent is up.")
	mChildren        = desc("medrelay_children_connected", "Child relays connected.")
	mLinkEnvelopes   = desc("medrelay_link_envelopes_total", "Envelopes received (in) or sent (out) on a link.", "link", "peer", "direction")
	mLinkBytes       = desc("medrelay_link_bytes_total", "Bytes of envelopes received (in) or sent (out) on a link.", "link", "peer", "direction")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// relayCollector reads the relay's snapshots at each scrape.
type relayCollector struct{ r *Relay }

func (c relayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mQueueDepth, mQueueOldest, mCommits, mSubmissions, mCommitMax, mCommitLatency, mCommitGroup,
		mDead, mDeadByReason, mAudit, mConns, mStoreOK, mJournalUnapp, mJournalOK, mJournalUsed, mJournalSize, mJournalFsync,
		mParentConnected, mChildren, mLinkEnvelopes, mLinkBytes} {
		ch <- d
	}
}

func (c relayCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.r
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	hist := func(d *prometheus.Desc, s histo.Snapshot) {
		ch <- prometheus.MustNewConstHistogram(d, s.Count, s.Sum, s.Buckets)
	}
	st := r.Status()
	cs := r.store.Stats()
	for q, n := range st.Queues {
		gauge(mQueueDepth, float64(n), q)
	}
	counter(mCommits, float64(cs.Commits))
	counter(mSubmissions, float64(cs.Submissions))
	gauge(mCommitMax, cs.MaxLatency.Seconds())
	if cs.Latency.Buckets != nil {
		hist(mCommitLatency, cs.Latency)
		hist(mCommitGroup, cs.Group)
	}
	gauge(mDead, float64(st.DeadLetters))
	if counts, err := r.store.Counts(); err == nil {
		now := r.now()
		for q, raw := range counts.Oldest {
			if env, err := envelope.Decode(raw); err == nil {
				if t, err := envelope.IDTime(env.GetId()); err == nil {
					gauge(mQueueOldest, max(0, now.Sub(t).Seconds()), q)
				}
			}
		}
		byClass := map[string]int{}
		for reason, n := range counts.DeadReasons {
			byClass[deadReasonClass(reason)] += n
		}
		for class, n := range byClass {
			gauge(mDeadByReason, float64(n), class)
		}
		gauge(mAudit, float64(counts.Audit))
	}
	gauge(mConns, float64(st.Connections))
	gauge(mStoreOK, boolValue(st.StoreError == ""))
	gauge(mJournalUnapp, float64(st.JournalUnapplied))
	gauge(mJournalOK, boolValue(st.Journal == "ok" || st.Journal == "off"))
	if js, ok := r.intake.journalStats(); ok {
		gauge(mJournalUsed, float64(js.Used))
		gauge(mJournalSize, float64(js.SegmentSize))
		hist(mJournalFsync, js.Fsync)
	}
	gauge(mParentConnected, boolValue(st.Parent != nil && st.Parent.State == "connected"))
	n := 0
	for _, ch := range st.Children {
		if ch.Connected {
			n++
		}
	}
	gauge(mChildren, float64(n))
	r.links.each(func(k linkKey, lc *linkCounters) {
		counter(mLinkEnvelopes, float64(lc.envIn.Load()), k.link, k.peer, "in")
		counter(mLinkEnvelopes, float64(lc.envOut.Load()), k.link, k.peer, "out")
		counter(mLinkBytes, float64(lc.bytesIn.Load()), k.link, k.peer, "in")
		counter(mLinkBytes, float64(lc.bytesOut.Load()), k.link, k.peer, "out")
	})
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// deadReasonClass names the kind of a dead letter's reason, which itself
// carries relay ids and error texts: a label needs few values.
func deadReasonClass(reason string) string {
	switch {
	case reason == reasonExpired:
		return "expired"
	case strings.HasPrefix(reason, "refused by next hop"):
		return "refused_by_next_hop"
	case strings.HasPrefix(reason, "refused when the intake journal was applied"):
		return "refused_on_journal_replay"
	case strings.HasPrefix(reason, "audit record refused"):
		return "audit_record_refused"
	case strings.HasPrefix(reason, "unknown relay"), strings.Contains(reason, " is not under "):
		return "no_route"
	}
	return "other"
}

// metricsHandler serves the relay's metrics and the Go and process
// collectors' from a registry of its own (tests run several relays in one
// process).
func (r *Relay) metricsHandler() http.Handler {
	r.metricsOnce.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), relayCollector{r})
		r.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{r}})
	})
	return r.metrics
}

func (r *Relay) serveMetrics(w http.ResponseWriter, req *http.Request) {
	r.metricsHandler().ServeHTTP(w, req)
}

// slogPrinter passes promhttp's errors to the relay's log.
type slogPrinter struct{ r *Relay }

func (p slogPrinter) Println(v ...any) { p.r.log.Error("metrics", "err", fmt.Sprint(v...)) }
