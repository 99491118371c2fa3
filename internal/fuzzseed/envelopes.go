package fuzzseed

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Envelopes returns envelopes shaped as the SDK and the relays make them:
// a command with a file and a delivered receipt asked for, a reply, an
// event, a receipt a relay sent back, and one that crossed three relays.
// Identifiers are UIDs only, as in production: no patient data.
func Envelopes() []*pb.Envelope {
	at := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	ts := timestamppb.New
	cmd := &pb.Envelope{
		Id: "0193f1d2-3c4b-7a5e-8f00-00000000a001", Kind: pb.Kind_KIND_COMMAND,
		From:    &pb.Address{Relay: "township-a1", Client: "clinic-7"},
		To:      &pb.Address{Relay: "county-b", Client: "radiology"},
		Command: "consult.request", Args: map[string]string{"study_uid": "1.2.826.0.1.3680043.8.498.10", "priority": "urgent"},
		Body:      []byte(`{"question":"second reading","modality":"CT"}`),
		CreatedAt: ts(at), ExpiresAt: ts(at.Add(7 * 24 * time.Hour)),
		Files: []*pb.FileRef{{Store: "main", Bucket: "medrelay-files", Key: "0193f1d2-3c4b-7a5e-8f00-00000000a001/0-study.zip",
			Size: 52428817, Sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", MediaType: "application/zip", Name: "study.zip"}},
		Receipts: []pb.ReceiptStatus{pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED},
	}
	reply := &pb.Envelope{
		Id: "0193f1d2-3c4b-7a5e-8f00-00000000a002", Kind: pb.Kind_KIND_COMMAND,
		From: cmd.To, To: cmd.From, Command: "consult.report", CorrelationId: cmd.Id,
		Body: []byte("report attached"), CreatedAt: ts(at.Add(time.Hour)), ExpiresAt: ts(at.Add(8 * 24 * time.Hour)),
	}
	event := &pb.Envelope{
		Id: "0193f1d2-3c4b-7a5e-8f00-00000000a003", Kind: pb.Kind_KIND_EVENT,
		From: &pb.Address{Relay: "main", Client: "scheduler"}, To: &pb.Address{Relay: "county-a", Client: "ward-3"},
		Command: "study.ready", Args: map[string]string{"n": "17"}, CreatedAt: ts(at),
	}
	receipt := &pb.Envelope{
		Id: "0193f1d2-3c4b-7a5e-8f00-00000000a004", Kind: pb.Kind_KIND_RECEIPT,
		From: &pb.Address{Relay: "main"}, To: cmd.From, CorrelationId: cmd.Id, CreatedAt: ts(at),
		Receipt: &pb.Receipt{Status: pb.ReceiptStatus_RECEIPT_STATUS_UNDELIVERABLE, EnvelopeId: cmd.Id, Reason: `no route to relay "county-z"`},
	}
	travelled := &pb.Envelope{
		Id: "0193f1d2-3c4b-7a5e-8f00-00000000a005", Kind: pb.Kind_KIND_COMMAND,
		From: cmd.From, To: &pb.Address{Relay: "county-b", Client: "lab"}, Command: "ping",
		CreatedAt: ts(at), ExpiresAt: ts(at.Add(time.Hour)),
		Hops: []*pb.Hop{{Relay: "township-a1", At: ts(at)}, {Relay: "county-a", At: ts(at.Add(time.Millisecond))}, {Relay: "main", At: ts(at.Add(2 * time.Millisecond))}},
	}
	return []*pb.Envelope{cmd, reply, event, receipt, travelled}
}
