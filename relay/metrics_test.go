package relay_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestMetricsCountLinksQueuesAndDeadLetters reads /metrics as Prometheus
// would, on each relay of a path, after traffic that queues and that
// dead-letters.
func TestMetricsCountLinksQueuesAndDeadLetters(t *testing.T) {
	n := startNetwork(t)
	ctx := context.Background()
	c := dial(t, n.relays["county-a"], "clinic-m", false)
	for i := range 5 {
		if _, err := c.Send(ctx, "county-b/radiology", "study.ready", map[string]string{"n": fmt.Sprint(i)}, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Send(ctx, "county-zz/x", "consult.request", nil, nil); err != nil {
		t.Fatal(err)
	}
	metric := func(relay, series string) (string, bool) {
		_, body := get(t, n.relays[relay].URL()+"/metrics")
		m := regexp.MustCompile(`(?m)^` + strings.ReplaceAll(regexp.QuoteMeta(series), "TRANSPORT", "(?:tcp|quic|http)") + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			return "", false
		}
		return m[1], true
	}
	want := func(relay, series, value string) {
		t.Helper()
		waitFor(t, relay+" "+series+" "+value, func() bool { v, _ := metric(relay, series); return v == value })
	}
	// Clients are counted together by their transport.
	want("county-a", `medrelay_link_envelopes_total{direction="in",link="client",peer="TRANSPORT"}`, "6")
	want("county-a", `medrelay_link_envelopes_total{direction="out",link="parent",peer=""}`, "6")
	want("main", `medrelay_link_envelopes_total{direction="in",link="child",peer="county-a"}`, "6")
	want("main", `medrelay_dead_letters_by_reason{reason="no_route"}`, "1")
	want("county-b", `medrelay_queue_depth{queue="client/radiology"}`, "5")
	want("county-b", `medrelay_link_envelopes_total{direction="in",link="parent",peer=""}`, "5")
	if v, ok := metric("county-b", `medrelay_queue_oldest_age_seconds{queue="client/radiology"}`); !ok || strings.HasPrefix(v, "-") {
		t.Errorf("county-b's oldest queued age: %q, %v", v, ok)
	}
	if v, ok := metric("main", "medrelay_audit_records"); !ok || v == "0" {
		t.Errorf("main's audit records: %q, %v; want some", v, ok)
	}
	_, body := get(t, n.relays["county-a"].URL()+"/metrics")
	for _, name := range []string{"process_cpu_seconds_total", "go_goroutines", "medrelay_journal_fsync_seconds_count",
		`medrelay_commit_latency_seconds_bucket{le="+Inf"}`, "medrelay_commit_group_size_sum", "medrelay_journal_used_bytes",
		"medrelay_journal_segment_bytes", "medrelay_store_ok 1", "medrelay_parent_connected 1"} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("county-a's /metrics lacks %s", name)
		}
	}
	if v, _ := metric("county-a", "medrelay_journal_fsync_seconds_count"); v == "0" || v == "" {
		t.Errorf("county-a synced its journal %q times; want some", v)
	}
}
