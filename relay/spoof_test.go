package relay_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/hello"
	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// noHandler is a link.Handler for a link that only sends.
type noHandler struct{}

func (noHandler) Batch(_ *pb.Batch, ack func([]*pb.Rejection)) { ack(nil) }
func (noHandler) Announce([]string)                            {}

// TestClientClaimingAnothersFromIsRefused sends, on a raw client link
// (the SDK always stamps its own from), an envelope that claims to come
// from another client of the relay, and one from another relay: both are
// refused, naming the mismatch, while the link's own envelope on the same
// batch is accepted.
func TestClientClaimingAnothersFromIsRefused(t *testing.T) {
	main := startRelay(t, "main", "", filepath.Join(t.TempDir(), "main"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := hello.Fetch(ctx, http.DefaultClient, main.URL())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := h.Choose("")
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := hello.Connect(ctx, main.URL(), tr, &pb.Hello{ClientId: "clinic-5"}, hello.DialOptions{Link: fastLink})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { defer close(ran); l.Run(noHandler{}) }()
	defer func() { l.Close("test done"); <-ran }()

	env := func(from *pb.Address) []byte {
		raw, err := proto.Marshal(&pb.Envelope{Id: envelope.NewID(), From: from, To: &pb.Address{Relay: "main", Client: "rx"},
			Command: "c", Kind: pb.Kind_KIND_COMMAND})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	batch := [][]byte{
		env(&pb.Address{Relay: "main", Client: "clinic-5"}),     // its own
		env(&pb.Address{Relay: "main", Client: "clinic-6"}),     // another client here
		env(&pb.Address{Relay: "county-a", Client: "clinic-5"}), // a client elsewhere
	}
	acked := make(chan *pb.Ack, 1)
	if err := l.SendAsync(ctx, batch, func(a *pb.Ack, err error) {
		if err != nil {
			t.Errorf("link ended: %v", err)
		}
		acked <- a
	}); err != nil {
		t.Fatal(err)
	}
	var ack *pb.Ack
	select {
	case ack = <-acked:
	case <-ctx.Done():
		t.Fatal("no ack")
	}
	refused := map[uint32]string{}
	for _, r := range ack.GetRejected() {
		refused[r.Index] = r.Reason
	}
	if _, ok := refused[0]; ok {
		t.Errorf("the link's own envelope was refused: %s", refused[0])
	}
	for _, i := range []uint32{1, 2} {
		if !strings.Contains(refused[i], "does not match") {
			t.Errorf("envelope %d with a spoofed from: refusal %q, want one saying the from does not match the link", i, refused[i])
		}
	}
	// The batch is stored in one commit: all of it shows at once.
	waitFor(t, "the batch stored", func() bool { return main.Status().Queues["client/rx"] >= 1 })
	if q := main.Status().Queues["client/rx"]; q != 1 {
		t.Errorf("%d envelopes queued, want 1 (the link's own)", q)
	}
}

var _ link.Handler = noHandler{}
