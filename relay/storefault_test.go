package relay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medrelay/medrelay/relay"
)

// get returns the status code and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A batch the intake journal acknowledged while the store could not write
// (a full disk) is applied once the store writes again, before what came
// after it, without a restart; meanwhile /readyz, /metrics and
// /v1/status say what waits and why.
func TestAcknowledgedBatchIsAppliedWhenTheStoreRecovers(t *testing.T) {
	var full atomic.Bool
	r := startRelayOpts(t, "main", "", t.TempDir(), relay.Options{StoreFault: func() error {
		if full.Load() {
			return errors.New("write relay.db: no space left on device (test)")
		}
		return nil
	}})
	in := &inbox{}
	rx := dial(t, r, "rx", true)
	rx.Handle("", in.handler)
	c := dial(t, r, "clinic", false)
	ctx := context.Background()
	send := func(n int) {
		t.Helper()
		if _, err := c.Send(ctx, "main/rx", "consult.request", map[string]string{"n": fmt.Sprint(n)}, nil); err != nil {
			t.Fatalf("send %d: %v", n, err)
		}
	}

	full.Store(true)
	send(1) // acknowledged from the journal; the store cannot take it
	waitFor(t, "/readyz to report the store", func() bool {
		code, body := get(t, r.URL()+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "no space left")
	})
	send(2) // waits behind 1
	waitFor(t, "two batches waiting", func() bool { return r.Status().JournalUnapplied == 2 })
	st := r.Status()
	if !strings.HasPrefix(st.Journal, "stalled: 2 acknowledged batches") || !strings.Contains(st.StoreError, "no space left") {
		t.Errorf("status: journal %q, store error %q", st.Journal, st.StoreError)
	}
	_, metrics := get(t, r.URL()+"/metrics")
	for _, want := range []string{"medrelay_journal_unapplied 2", "medrelay_store_ok 0", "medrelay_journal_ok 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if in.len() != 0 {
		t.Fatalf("delivered %d envelopes the store never held", in.len())
	}

	full.Store(false)
	waitFor(t, "the waiting batches delivered", func() bool { return in.len() == 2 })
	send(3)
	waitFor(t, "the third delivered", func() bool { return in.len() == 3 })
	for i, e := range in.envs {
		if e.Args["n"] != fmt.Sprint(i+1) {
			t.Fatalf("envelope %d has n=%s: order not kept", i, e.Args["n"])
		}
	}
	waitFor(t, "/readyz ready again", func() bool { code, _ := get(t, r.URL()+"/readyz"); return code == http.StatusOK })
	if st := r.Status(); st.Journal != "ok" || st.JournalUnapplied != 0 || st.StoreError != "" {
		t.Errorf("after recovery: journal %q, %d unapplied, store error %q", st.Journal, st.JournalUnapplied, st.StoreError)
	}
	_, metrics = get(t, r.URL()+"/metrics")
	if !strings.Contains(metrics, "medrelay_store_ok 1") || !strings.Contains(metrics, "medrelay_journal_unapplied 0") {
		t.Errorf("/metrics after recovery:\n%s", metrics)
	}
}

// startRelayOpts is startRelay with relay options (a clock, a store
// fault); Link and Logger are set as startRelay sets them.
func startRelayOpts(t *testing.T, id, parentURL, dataDir string, opts relay.Options) *relay.Relay {
	t.Helper()
	opts.Link, opts.Logger = fastLink, testLogger(t)
	return startRelayWithOpts(t, id, parentURL, dataDir, nil, opts)
}
