package relay

import (
	"errors"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/config"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// A node with shortcut delivers in its own subtree without main, and sends
// main an audit record instead, up the same store-and-forward path: an
// event envelope from the node, addressed to the node's own audit client,
// whose body is the audit record as JSON. Every relay above forwards such
// records to its parent; main appends them to its audit log.
const (
	// AuditCommand is the command of audit records.
	AuditCommand = "medrelay.audit"
	// AuditClient is the client id audit records are addressed to.
	AuditClient = "medrelay-audit"
)

func isAuditRecord(e *pb.Envelope) bool {
	return e.Kind == pb.Kind_KIND_EVENT && e.Command == AuditCommand && e.To.GetClient() == AuditClient
}

// acceptAuditRecord takes an audit record from a child relay: main keeps
// it, a node passes it up.
func (r *Relay) acceptAuditRecord(p peer, raw []byte, in inbound, now time.Time) (inbound, error) {
	if p.kind != peerChild || in.env.From.Client != "" {
		return in, errors.New("audit records come only from child relays")
	}
	if r.cfg.Role == config.RoleMain {
		in.audit = true
	} else {
		in.queue = parentQueue
	}
	in.raw = envelope.AppendHop(raw, r.cfg.ID, now)
	return in, nil
}

// auditEvent is an encoded audit record for main, and its dedupe key.
type auditEvent struct {
	key []byte
	raw []byte
}

// newAuditEvent makes the audit record of an envelope this node delivers
// by shortcut; storeInbound queues it for the parent in the same
// transaction as the envelope.
func (r *Relay) newAuditEvent(in *inbound, now time.Time, outcome string) *auditEvent {
	rec := &pb.Envelope{
		Id:        envelope.NewID(),
		From:      &pb.Address{Relay: r.cfg.ID},
		To:        &pb.Address{Relay: r.cfg.ID, Client: AuditClient},
		Command:   AuditCommand,
		Kind:      pb.Kind_KIND_EVENT,
		CreatedAt: timestamppb.New(now),
		Body:      auditRecord(in.env, len(in.raw), now, "shortcut at "+r.cfg.ID+": "+outcome),
	}
	raw, _ := proto.Marshal(rec)
	return &auditEvent{key: seenKey(rec.Id, false), raw: envelope.AppendHop(raw, r.cfg.ID, now)}
}
