package relay

import (
	"errors"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/audit"
	"github.com/medrelay/medrelay/relay/config"
)

// A node with shortcut delivers in its own subtree without main and sends
// main an audit event instead (package audit, event.go).

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
	rec := audit.Event(r.cfg.ID, audit.Record(in.env, len(in.raw), now, "shortcut at "+r.cfg.ID+": "+outcome), now)
	raw, _ := proto.Marshal(rec)
	return &auditEvent{key: seenKey(rec.Id, false), raw: envelope.AppendHop(raw, r.cfg.ID, now)}
}
