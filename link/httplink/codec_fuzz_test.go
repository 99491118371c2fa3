package httplink

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func sampleEnvelope() *pb.Envelope {
	return &pb.Envelope{Id: "0190f1d2-3c4b-7a5e-8f00-000000000001", From: &pb.Address{Relay: "main", Client: "a"},
		To: &pb.Address{Relay: "county-a", Client: "b"}, Command: "consult.request", Args: map[string]string{"k": "v"}, Body: []byte("hi")}
}

// FuzzDecodePush feeds Push bodies, protobuf and JSON, to the decoder: it
// never panics, and every protobuf envelope it returns re-encodes to a
// Push that decodes to the same envelopes.
func FuzzDecodePush(f *testing.F) {
	raw, _ := proto.Marshal(sampleEnvelope())
	f.Add(EncodePush([][]byte{raw, raw}), false)
	js, _ := protojson.Marshal(&pb.Push{Envelopes: []*pb.Envelope{sampleEnvelope()}})
	f.Add(js, true)
	f.Add([]byte(`{"envelopes":[{"id":"x"}]}`), true)
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, false)
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		envs, err := DecodePush(body, asJSON)
		if err != nil || asJSON {
			return
		}
		again, err := DecodePush(EncodePush(envs), false)
		if err != nil || len(again) != len(envs) {
			t.Fatalf("re-encoded push: %v, %d envelopes, want %d", err, len(again), len(envs))
		}
		for i := range envs {
			if !bytes.Equal(again[i], envs[i]) {
				t.Fatalf("envelope %d changed", i)
			}
		}
	})
}

// FuzzDecodePollResult: poll results never panic the decoder, and a
// result the encoder makes decodes to what went in.
func FuzzDecodePollResult(f *testing.F) {
	raw, _ := proto.Marshal(sampleEnvelope())
	b, _ := EncodePollResult(7, [][]byte{raw}, false)
	f.Add(b, uint64(7))
	f.Add([]byte{0x08}, uint64(0))
	f.Fuzz(func(t *testing.T, body []byte, cursor uint64) {
		DecodePollResult(body)
		envs, err := DecodePush(body, false)
		if err != nil {
			return
		}
		enc, _ := EncodePollResult(cursor, envs, false)
		got, gotEnvs, err := DecodePollResult(enc)
		if err != nil || got != cursor || len(gotEnvs) != len(envs) {
			t.Fatalf("round trip: cursor %d, %d envelopes, err %v; want %d, %d", got, len(gotEnvs), err, cursor, len(envs))
		}
	})
}

// FuzzPollJSON: JSON poll bodies and hellos never panic the codec.
func FuzzPollJSON(f *testing.F) {
	f.Add([]byte(`{"ack":"1","waitMs":1000}`))
	f.Add([]byte(`{"clientId":"clinic-7","receive":true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p pb.Poll
		jsonCodec.unmarshal(body, &p)
		var h pb.Hello
		jsonCodec.unmarshal(body, &h)
	})
}
