package relay_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/relay/audit"
	"github.com/medrelay/medrelay/relay/config"
)

func hopNames(in *inbox) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, h := range in.envs[0].Hops {
		out = append(out, h.Relay)
	}
	return out
}

// Without shortcut, traffic inside a county's subtree still goes through
// main, which audits it; with shortcut the county delivers it and sends
// main an audit record instead.
func TestShortcutOrEverythingThroughMain(t *testing.T) {
	for _, shortcut := range []bool{false, true} {
		dir := t.TempDir()
		main := startRelay(t, "main", "", filepath.Join(dir, "main"))
		county := startRelayWith(t, "county-a", main.URL(), filepath.Join(dir, "a"), func(c *config.Config) { c.Shortcut = shortcut })
		town := startRelay(t, "township-a1", county.URL(), filepath.Join(dir, "t"))
		waitFor(t, "township-a1 routed at main", func() bool {
			for _, c := range main.Status().Children {
				if c.Connected && len(c.Subtree) == 2 {
					return true
				}
			}
			return false
		})
		in := &inbox{}
		rx := dial(t, county, "clinic-12", true)
		rx.Handle("", in.handler)
		tx := dial(t, town, "clinic-7", false)
		id, err := tx.Send(context.Background(), "county-a/clinic-12", "study.ready", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "delivery", func() bool { return in.len() == 1 })
		hops := strings.Join(hopNames(in), ",")
		want := "township-a1,county-a,main,county-a"
		if shortcut {
			want = "township-a1,county-a"
		}
		if hops != want {
			t.Errorf("shortcut=%v: hops %s, want %s", shortcut, hops, want)
		}
		waitFor(t, "main audits the envelope", func() bool {
			recs, _ := main.Audit(audit.Query{To: "county-a/clinic-12"})
			return len(recs) == 1 && recs[0].ID == id
		})
		recs, _ := main.Audit(audit.Query{To: "county-a/clinic-12"})
		if got := strings.HasPrefix(recs[0].Outcome, "shortcut at county-a"); got != shortcut {
			t.Errorf("shortcut=%v: audit outcome %q", shortcut, recs[0].Outcome)
		}
	}
}

func TestClientsCannotForgeAuditRecords(t *testing.T) {
	dir := t.TempDir()
	main := startRelay(t, "main", "", filepath.Join(dir, "main"))
	c := dial(t, main, "mallory", false)
	_, err := c.Send(context.Background(), "main/"+audit.Client, audit.Command, nil, []byte(`{"id":"x"}`), client.AsEvent())
	if err == nil || !strings.Contains(err.Error(), "audit records come only from child relays") {
		t.Fatalf("forged audit record: got %v, want a refusal", err)
	}
}
