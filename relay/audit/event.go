package audit

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/medrelay/medrelay/envelope"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// A node with shortcut delivers in its own subtree without main, and sends
// main an audit record instead, up the same store-and-forward path: an
// event envelope from the node, addressed to the node's own audit client,
// whose body is the audit record as JSON. Every relay above forwards such
// records to its parent; main appends them to its audit log.
const (
	// Command is the command of audit events.
	Command = "medrelay.audit"
	// Client is the client id audit events are addressed to.
	Client = "medrelay-audit"
)

// IsEvent reports whether e is an audit event.
func IsEvent(e *pb.Envelope) bool {
	return e.Kind == pb.Kind_KIND_EVENT && e.Command == Command && e.To.GetClient() == Client
}

// Event returns the audit event node sends main with record rec.
func Event(node string, rec []byte, now time.Time) *pb.Envelope {
	return &pb.Envelope{
		Id:        envelope.NewID(),
		From:      &pb.Address{Relay: node},
		To:        &pb.Address{Relay: node, Client: Client},
		Command:   Command,
		Kind:      pb.Kind_KIND_EVENT,
		CreatedAt: timestamppb.New(now),
		Body:      rec,
	}
}
