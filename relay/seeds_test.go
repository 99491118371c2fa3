package relay

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// TestWriteFuzzSeeds writes intake journal records as the relay makes
// them from client batches of real envelopes, for FuzzDecodeIntake (see
// internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	var raws [][]byte
	for _, e := range fuzzseed.Envelopes() {
		raw, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	at := time.Date(2026, 11, 30, 2, 0, 0, 123456789, time.UTC)
	fuzzseed.Write(t, "FuzzDecodeIntake", "one-envelope", encodeIntake("clinic-7", at, raws[:1]))
	fuzzseed.Write(t, "FuzzDecodeIntake", "batch-of-five", encodeIntake("radiology", at, raws))
}
