package store

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/medrelay/medrelay/internal/fuzzseed"
	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// FuzzDecodeDeadLetter checks the dead-letter record decoder: whatever
// the bytes, it returns a record or errCorrupt, and a record it returns
// is encoded and decoded again unchanged.
func FuzzDecodeDeadLetter(f *testing.F) {
	f.Add((&DeadLetter{Queue: "client/x", Reason: "no route", At: time.Unix(0, 1), Raw: []byte{1}}).encode())
	f.Fuzz(func(t *testing.T, v []byte) {
		d, err := decodeDeadLetter(7, v)
		if err != nil {
			if err != errCorrupt {
				t.Fatalf("error %v, want errCorrupt", err)
			}
			return
		}
		again, err := decodeDeadLetter(7, d.encode())
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if again.Seq != 7 || again.Queue != d.Queue || again.Reason != d.Reason || !again.At.Equal(d.At) || !bytes.Equal(again.Raw, d.Raw) {
			t.Fatalf("record changed on the way through: %+v, then %+v", d, again)
		}
	})
}

// TestWriteFuzzSeeds writes dead letters the way the store records them,
// holding real envelopes (see internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	at := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	env := &pb.Envelope{
		Id: "0b7e6b1e-3c55-4c39-9f0e-52c8a1d0a001", Command: "study.ready",
		From: &pb.Address{Relay: "township-a1", Client: "clinic-7"}, To: &pb.Address{Relay: "county-z", Client: "radiology"},
		Args: map[string]string{"study_uid": "1.2.826.0.1.3680043.8.498.1"}, Body: []byte("{}"),
		CreatedAt: timestamppb.New(at), ExpiresAt: timestamppb.New(at.Add(7 * 24 * time.Hour)), Kind: pb.Kind_KIND_COMMAND,
	}
	raw, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]DeadLetter{
		"unknown-relay": {Queue: "client/radiology", Reason: `no route to relay "county-z"`, At: at, Raw: raw},
		"expired":       {Queue: "parent", Reason: "expired", At: at, Raw: raw},
		"empty":         {At: at},
	} {
		fuzzseed.Write(t, "FuzzDecodeDeadLetter", name, d.encode())
	}
}
