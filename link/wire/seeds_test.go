package wire

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/internal/fuzzseed"
	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// TestWriteFuzzSeeds writes the frames of a client's and a child relay's
// links, as Writer puts them on the wire, for FuzzReadFrame (see
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
	sessions := map[string][]*pb.Frame{
		"client-session": {
			{Msg: &pb.Frame_Hello{Hello: &pb.Hello{ClientId: "clinic-7", Receive: true, Token: "4f1c0b7a9e", Version: "0.9.0", MaxBatch: 256}}},
			{Msg: &pb.Frame_Welcome{Welcome: &pb.Welcome{RelayId: "township-a1", Role: "node", Version: "0.9.0", Ancestors: []string{"county-a", "main"}}}},
			{Msg: &pb.Frame_Batch{Batch: &pb.Batch{Seq: 1, Envelopes: raws[:2]}}},
			{Msg: &pb.Frame_Ack{Ack: &pb.Ack{Seq: 1}}},
			{Msg: &pb.Frame_Heartbeat{Heartbeat: &pb.Heartbeat{}}},
			{Msg: &pb.Frame_Goodbye{Goodbye: &pb.Goodbye{Reason: "client closing"}}},
		},
		"child-relay-session": {
			{Msg: &pb.Frame_Hello{Hello: &pb.Hello{RelayId: "county-a", Subtree: []string{"county-a", "township-a1"}, Version: "0.9.0"}}},
			{Msg: &pb.Frame_Welcome{Welcome: &pb.Welcome{RelayId: "main", Role: "main", Version: "0.9.0"}}},
			{Msg: &pb.Frame_Announce{Announce: &pb.Announce{Subtree: []string{"county-a", "township-a1", "township-a2"}}}},
			{Msg: &pb.Frame_Batch{Batch: &pb.Batch{Seq: 41, Envelopes: raws}}},
			{Msg: &pb.Frame_Ack{Ack: &pb.Ack{Seq: 41, Rejected: []*pb.Rejection{{Index: 3, Id: "0193f1d2-3c4b-7a5e-8f00-00000000a004", Reason: "expired"}}}}},
		},
	}
	for name, frames := range sessions {
		var all bytes.Buffer
		w := NewWriter(&all, 0)
		for _, fr := range frames {
			if err := w.Write(fr); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		fuzzseed.Write(t, "FuzzReadFrame", name, all.Bytes())
	}
}
