package httplink

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/internal/fuzzseed"
	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// TestWriteFuzzSeeds writes push and poll bodies, protobuf and JSON, as
// the HTTP transport's two sides send them (see internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	envs := fuzzseed.Envelopes()
	var raws [][]byte
	for _, e := range envs {
		raw, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	fuzzseed.Write(t, "FuzzDecodePush", "protobuf", EncodePush(raws), false)
	js, err := protojson.Marshal(&pb.Push{Envelopes: envs})
	if err != nil {
		t.Fatal(err)
	}
	fuzzseed.Write(t, "FuzzDecodePush", "json", js, true)
	res, err := EncodePollResult(42, raws, false)
	if err != nil {
		t.Fatal(err)
	}
	fuzzseed.Write(t, "FuzzDecodePollResult", "five-envelopes", res, uint64(42))
	for name, m := range map[string]proto.Message{
		"poll":  &pb.Poll{Ack: 41, WaitMs: 25000, Rejected: []*pb.Rejection{{Index: 1, Id: "0193f1d2-3c4b-7a5e-8f00-00000000a002", Reason: "no handler"}}},
		"hello": &pb.Hello{ClientId: "clinic-7", Receive: true, Version: "0.9.0", MaxBatch: 64},
	} {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		fuzzseed.Write(t, "FuzzPollJSON", name, b)
	}
}
