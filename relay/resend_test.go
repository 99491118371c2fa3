package relay_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/envelope"
	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
	"github.com/medrelay/medrelay/relay/audit"
)

// TestResentEnvelopeIsStoredOnce sends one envelope twice (a sender
// resends whatever it has no ack for) and a marker after it. Main stores
// and audits each envelope in the order it receives them, so once the
// marker is in the audit log the resend was handled: it must have been
// recognized, not queued and audited a second time. The check is below
// the SDK, which would hide a duplicate from its handlers.
func TestResentEnvelopeIsStoredOnce(t *testing.T) {
	main := startRelay(t, "main", "", filepath.Join(t.TempDir(), "main"))
	c := dial(t, main, "clinic", false)
	ctx := context.Background()
	id := envelope.NewID()
	for range 2 {
		e := &pb.Envelope{Id: id, To: &pb.Address{Relay: "main", Client: "rx"}, Command: "consult.request", Kind: pb.Kind_KIND_COMMAND}
		if _, err := c.SendEnvelope(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Send(ctx, "main/rx", "marker", nil, nil); err != nil {
		t.Fatal(err)
	}
	var recs []adminapi.AuditRecord
	// The queue depth is counted just after the commit the audit log
	// shows: wait for both.
	waitFor(t, "the marker audited and queued", func() bool {
		var err error
		recs, err = main.Audit(audit.Query{To: "main/rx"})
		return err == nil && len(recs) > 0 && recs[len(recs)-1].Command == "marker" &&
			main.Status().Queues["client/rx"] >= 2
	})
	if len(recs) != 2 {
		t.Errorf("main audited %d envelopes, want 2 (the resent one once, and the marker)", len(recs))
	}
	if q := main.Status().Queues["client/rx"]; q != 2 {
		t.Errorf("main queued %d envelopes for rx, want 2", q)
	}
}
