package envelope

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// TestWriteFuzzSeeds writes envelopes as the SDK and the relays encode
// them, one with a hop appended the way a relay does, for
// FuzzDecodeEnvelope (see internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	names := []string{"command-with-file", "reply", "event", "receipt", "three-hops"}
	for i, e := range fuzzseed.Envelopes() {
		raw, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		fuzzseed.Write(t, "FuzzDecodeEnvelope", names[i], raw)
		if i == 0 {
			fuzzseed.Write(t, "FuzzDecodeEnvelope", "command-hop-appended", AppendHop(raw, "county-a", time.Date(2026, 11, 30, 2, 0, 1, 0, time.UTC)))
		}
	}
}
