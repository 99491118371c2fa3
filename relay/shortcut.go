package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/audit"
	"github.com/medrelay/medrelay/relay/config"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// A node with shortcut delivers in its own subtree without main and sends
// main an audit event instead (package audit, event.go).

// acceptAuditRecord takes an audit record from a child relay: main checks
// and keeps it, a node passes it up. A record main refuses is kept aside
// as a dead letter (queue "audit", with the reason), never in the log, so
// that the log holds only records main could read and the child's
// subtree could have made.
func (r *Relay) acceptAuditRecord(p peer, raw []byte, in inbound, now time.Time) (inbound, error) {
	if p.kind != peerChild || in.env.From.Client != "" {
		return in, errors.New("audit records come only from child relays")
	}
	in.raw = envelope.AppendHop(raw, r.cfg.ID, now)
	if r.cfg.Role != config.RoleMain {
		in.queue = parentQueue
		return in, nil
	}
	in.audit = true
	if err := r.checkAuditRecord(p.id, in.env.Body); err != nil {
		in.dead = "audit record refused: " + err.Error()
		r.log.Warn("audit record refused", "child", p.id, "id", in.env.Id, "reason", err.Error())
	}
	return in, nil
}

// auditQueue is the queue dead letters name for audit records main
// refused.
const auditQueue Queue = "audit"

// checkAuditRecord checks an audit record child sent main: a record main
// can read, about a valid envelope, whose sender lies in child's subtree
// (a child speaks only for the traffic its own subtree delivered).
func (r *Relay) checkAuditRecord(child string, body []byte) error {
	var rec adminapi.AuditRecord
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return fmt.Errorf("not an audit record (JSON of adminapi.AuditRecord): %v", err)
	}
	if dec.More() {
		return errors.New("not an audit record: data after the JSON object")
	}
	if rec.Command == "" && rec.Kind != pb.Kind_KIND_RECEIPT.String() {
		return errors.New("the record names no command")
	}
	if _, err := envelope.IDKey(rec.ID); err != nil {
		return fmt.Errorf("id: %v", err)
	}
	from, err := envelope.ParseAddress(rec.From)
	if err != nil {
		return fmt.Errorf("from: %v", err)
	}
	if _, err := envelope.ParseAddress(rec.To); err != nil {
		return fmt.Errorf("to: %v", err)
	}
	r.mu.RLock()
	via, ok := r.routes[from.Relay]
	r.mu.RUnlock()
	if !ok || via != child {
		return fmt.Errorf("from %s does not lie in the subtree of child %s", rec.From, child)
	}
	return nil
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
