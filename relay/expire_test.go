package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/relay"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// An envelope to a client that stays offline expires on time: the sender
// gets its EXPIRED receipt and the target's relay holds the dead letter
// within a few seconds of expires_at, though no link ever reads the queue.
func TestExpiryWhileTheTargetStaysOffline(t *testing.T) {
	n := startNetwork(t)
	in := &inbox{}
	c := dial(t, n.relays["county-a"], "urgent", true)
	c.Handle(relay.ReceiptCommand, in.handler)
	id, err := c.Send(context.Background(), "county-b/offline", "consult.request", nil, nil, client.WithTTL(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	countyB := n.relays["county-b"]
	waitFor(t, "queued at county-b", func() bool { return countyB.Status().Queues["client/offline"] == 1 })
	waitFor(t, "an EXPIRED receipt while the target is offline", func() bool { return in.len() == 1 })
	rc := in.envs[0]
	if rc.Receipt.GetStatus() != pb.ReceiptStatus_RECEIPT_STATUS_EXPIRED || rc.CorrelationId != id {
		t.Errorf("receipt = %v, want EXPIRED about %s", rc.Receipt, id)
	}
	st := countyB.Status()
	if st.DeadLetters != 1 || st.Queues["client/offline"] != 0 {
		t.Errorf("county-b: %d dead letters, client/offline holds %d; want 1 and 0", st.DeadLetters, st.Queues["client/offline"])
	}
	dl := deadLetters(t, countyB)
	if len(dl) != 1 || dl[0].ID != id || dl[0].Queue != "client/offline" || dl[0].Reason == "" {
		t.Errorf("dead letters = %+v, want %s from client/offline with a reason", dl, id)
	}
}

// deadLetters lists a relay's dead letters through its admin API.
func deadLetters(t *testing.T, r *relay.Relay) []adminapi.DeadLetter {
	t.Helper()
	resp, err := http.Get(r.URL() + "/v1/deadletters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dl []adminapi.DeadLetter
	if err := json.NewDecoder(resp.Body).Decode(&dl); err != nil {
		t.Fatal(err)
	}
	return dl
}
