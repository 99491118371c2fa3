package envelope

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func sample() *pb.Envelope {
	return &pb.Envelope{
		Id:      NewID(),
		From:    &pb.Address{Relay: "county-a", Client: "clinic-12"},
		To:      &pb.Address{Relay: "county-b", Client: "radiology"},
		Command: "consult.request",
		Args:    map[string]string{"patient": "p-1"},
		Body:    []byte("please review"),
		Kind:    pb.Kind_KIND_COMMAND,
	}
}

func TestAppendHop(t *testing.T) {
	e := sample()
	raw, _ := proto.Marshal(e)
	at := time.Unix(1700000000, 5).UTC()
	raw = AppendHop(raw, "county-a", at)
	raw = AppendHop(raw, "main", at.Add(time.Millisecond))
	got, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hops) != 2 || got.Hops[0].Relay != "county-a" || got.Hops[1].Relay != "main" || !got.Hops[0].At.AsTime().Equal(at) {
		t.Errorf("got hops %v", got.Hops)
	}
	got.Hops = nil
	if !proto.Equal(got, e) {
		t.Errorf("envelope changed: got %v, want %v", got, e)
	}
}

func TestIDTime(t *testing.T) {
	before := time.Now().Add(-time.Millisecond)
	id := NewID()
	got, err := IDTime(id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(before) || got.After(time.Now().Add(time.Millisecond)) {
		t.Errorf("IDTime(%s) = %v, want about now", id, got)
	}
	if _, err := IDTime("not-an-id"); err == nil {
		t.Error("IDTime accepted a bad id")
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"county-a/clinic-12", "county-a/clinic-12", false},
		{"main/", "main/", false},
		{"county-a", "", true},
		{"County/x", "", true},
		{"a/b/c", "", true},
		{"/x", "", true},
	}
	for _, tt := range tests {
		a, err := ParseAddress(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseAddress(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && FormatAddress(a) != tt.want {
			t.Errorf("ParseAddress(%q) = %q, want %q", tt.in, FormatAddress(a), tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*pb.Envelope)
	}{
		{"bad id", func(e *pb.Envelope) { e.Id = "123" }},
		{"no to", func(e *pb.Envelope) { e.To = nil }},
		{"to relay only", func(e *pb.Envelope) { e.To.Client = "" }},
		{"bad from", func(e *pb.Envelope) { e.From.Relay = "A B" }},
		{"no command", func(e *pb.Envelope) { e.Command = "" }},
		{"big body", func(e *pb.Envelope) { e.Body = bytes.Repeat([]byte{1}, 1025) }},
	}
	if err := Validate(sample(), 1024); err != nil {
		t.Fatalf("valid envelope refused: %v", err)
	}
	for _, tt := range tests {
		e := sample()
		tt.mutate(e)
		if err := Validate(e, 1024); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tt.name, err)
		}
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	raw, _ := proto.Marshal(sample())
	f.Add(raw)
	f.Add(AppendHop(raw, "main", time.Now()))
	f.Add([]byte{0x0a, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		_ = Validate(e, 1<<20)
		// What decodes must encode and decode to the same envelope.
		again, err := proto.Marshal(e)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		e2, err := Decode(again)
		if err != nil || !proto.Equal(e, e2) {
			t.Fatalf("round trip changed the envelope: %v", err)
		}
	})
}

// AppendHop's hand encoding must equal what proto.Marshal makes of a Hop.
func TestAppendHopMatchesProto(t *testing.T) {
	for _, at := range []time.Time{time.Unix(1700000000, 5), time.Unix(1700000000, 0), time.Unix(0, 7), time.Unix(-5, 3)} {
		hop, _ := proto.Marshal(&pb.Hop{Relay: "county-a", At: timestamppb.New(at)})
		want := protowire.AppendBytes(protowire.AppendTag([]byte("x"), 12, protowire.BytesType), hop)
		if got := AppendHop([]byte("x"), "county-a", at); !bytes.Equal(got, want) {
			t.Errorf("at %v: got %x, want %x", at, got, want)
		}
	}
}

func TestWantsReceipt(t *testing.T) {
	e := sample()
	raw, _ := proto.Marshal(e)
	if WantsReceipt(raw, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED) {
		t.Error("an envelope asking for nothing wants a receipt")
	}
	e.Receipts = []pb.ReceiptStatus{pb.ReceiptStatus_RECEIPT_STATUS_EXPIRED, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED}
	packed, _ := proto.Marshal(e)
	packed = AppendHop(packed, "main", time.Now())
	if !WantsReceipt(packed, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED) {
		t.Error("packed receipts: DELIVERED not found")
	}
	// The same field unpacked (legal protobuf) must be understood too.
	unpacked := protowire.AppendTag(append([]byte(nil), raw...), 13, protowire.VarintType)
	unpacked = protowire.AppendVarint(unpacked, uint64(pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED))
	if !WantsReceipt(unpacked, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED) {
		t.Error("unpacked receipts: DELIVERED not found")
	}
	if WantsReceipt(unpacked, pb.ReceiptStatus_RECEIPT_STATUS_UNDELIVERABLE) {
		t.Error("found a status that was not asked for")
	}
	if WantsReceipt([]byte{0x6a, 0xff}, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED) {
		t.Error("garbage wants a receipt")
	}
}
