package tests

import (
	"context"
	"strings"
	"testing"
	"time"
)

// An operator lists main's dead letters and replays one once its relay
// has joined the network.
func TestOperatorReplaysADeadLetter(t *testing.T) {
	dir := t.TempDir()
	main := newRelay(t, dir, "main", nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := ctl(t, ctx, "send", "--relay", main.URL, "--id", "clinic", "--to", "county-zz/rx", "--command", "consult.request")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	waitFor(t, "the dead letter", func() bool { return main.Status().DeadLetters == 1 })
	list, err := ctl(t, ctx, "deadletters", "--relay", main.URL)
	if err != nil || !strings.Contains(list, "unknown relay county-zz") || !strings.Contains(list, id) {
		t.Fatalf("deadletters listed %q, %v", list, err)
	}
	if _, err := ctl(t, ctx, "deadletters", "replay", "--relay", main.URL, "--seq", "1"); err == nil || !strings.Contains(err.Error(), "still no route") {
		t.Fatalf("replay before county-zz joined: %v, want a refusal saying there is still no route", err)
	}
	zz := newRelay(t, dir, "county-zz", main, "")
	waitFor(t, "county-zz linked", func() bool { return routedRelays(main) == 1 })
	out, err := ctl(t, ctx, "deadletters", "replay", "--relay", main.URL, "--seq", "1")
	if err != nil || !strings.Contains(out, "queued for child/county-zz") {
		t.Fatalf("replay: %q, %v", out, err)
	}
	recv, err := ctl(t, ctx, "listen", "--relay", zz.URL, "--id", "rx", "--count", "1", "--timeout", "20s")
	if err != nil || !strings.Contains(recv, id) {
		t.Fatalf("the replayed envelope did not arrive: %q, %v", recv, err)
	}
}

// medrelayctl audit lists what main routed and audit verify checks the
// hash chain over it.
func TestAuditQueryAndVerify(t *testing.T) {
	tp := startTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, to := range []string{"county-b/radiology", "county-a/clinic-12", "county-zz/nobody"} {
		if _, err := ctl(t, ctx, "send", "--relay", tp.townshipA1.URL, "--id", "clinic-7", "--to", to, "--command", "consult.request"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three envelopes audited", func() bool {
		out, _ := ctl(t, ctx, "audit", "--relay", tp.main.URL, "--from", "township-a1", "--json")
		return strings.Count(out, "\n") == 3
	})
	out, err := ctl(t, ctx, "audit", "--relay", tp.main.URL, "--to", "county-zz/nobody", "--since", "1h")
	if err != nil || !strings.Contains(out, "dead: unknown relay county-zz") {
		t.Errorf("audit --to: %q, %v", out, err)
	}
	out, err = ctl(t, ctx, "audit", "verify", "--relay", tp.main.URL)
	if err != nil || !strings.Contains(out, "audit chain intact: 3 records") {
		t.Errorf("audit verify: %q, %v", out, err)
	}
}

// An envelope sent with --ttl 2s to a client that stays offline expires on
// time: main shows the dead letter and the sender receives an EXPIRED
// receipt, with the target never connecting.
func TestExpiryReachesTheSenderWhileTheTargetStaysOffline(t *testing.T) {
	dir := t.TempDir()
	main := newRelay(t, dir, "main", nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := ctl(t, ctx, "send", "--relay", main.URL, "--id", "urgent", "--to", "main/offline", "--command", "consult.request", "--ttl", "2s")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	waitFor(t, "the dead letter", func() bool { return main.Status().DeadLetters == 1 })
	list, err := ctl(t, ctx, "deadletters", "--relay", main.URL)
	if err != nil || !strings.Contains(list, "expired before delivery") || !strings.Contains(list, id) {
		t.Fatalf("deadletters listed %q, %v", list, err)
	}
	got, err := ctl(t, ctx, "listen", "--relay", main.URL, "--id", "urgent", "--count", "1", "--timeout", "20s", "--json")
	if err != nil || !strings.Contains(got, "RECEIPT_STATUS_EXPIRED") || !strings.Contains(got, id) {
		t.Fatalf("the sender's receipt: %q, %v", got, err)
	}
	if q := main.Status().Queues["client/offline"]; q != 0 {
		t.Errorf("client/offline still holds %d", q)
	}
}
