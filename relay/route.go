package relay

import (
	"fmt"
	"time"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/relay/audit"
	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

type peerKind int

const (
	peerClient peerKind = iota
	peerChild
	peerParent
)

func (k peerKind) String() string {
	return [...]string{"client", "child", "parent"}[k]
}

// peer is the other end of a link.
type peer struct {
	kind peerKind
	id   string // client id, child relay id, or parent relay id
}

// peerHandler receives batches and announcements on one link.
type peerHandler struct {
	r     *Relay
	p     peer
	conn  link.Link
	child *childLink
}

// inbound is one envelope of a received batch, ready to store.
type inbound struct {
	env   *pb.Envelope
	idKey []byte
	raw   []byte
	queue Queue  // where it goes; "" when dead
	dead  string // why it cannot be delivered
	// audit is set for a shortcut node's audit record arriving at main.
	audit bool
	// auditRec is main's audit record of the envelope, made before the
	// commit so that the single writer does not spend its time on it.
	auditRec []byte
	// shortcutRec is the audit record (an encoded envelope for main) of
	// an envelope this node delivers in its subtree without main.
	shortcutRec *auditEvent
}

func (h *peerHandler) Announce(subtree []string) {
	if h.p.kind != peerChild {
		return
	}
	if err := h.r.checkSubtree(h.p.id, subtree); err != nil {
		h.r.log.Warn("announcement refused", "child", h.p.id, "reason", err.Error())
		go h.conn.Close("announcement refused: " + err.Error())
		return
	}
	if err := h.r.setSubtree(h.p.id, subtree); err != nil {
		h.r.log.Error("store routes", "child", h.p.id, "err", err)
		return
	}
	h.r.mu.Lock()
	h.child.subtree = subtree
	h.r.mu.Unlock()
}

func (h *peerHandler) Batch(b *pb.Batch, ack func([]*pb.Rejection)) {
	r := h.r
	now := r.now()
	var items []inbound
	var raws [][]byte // accepted, as sent: what the journal keeps
	var rejected []*pb.Rejection
	for i, raw := range b.Envelopes {
		in, err := r.accept(h.p, raw, now)
		if err != nil {
			rejected = append(rejected, &pb.Rejection{Index: uint32(i), Id: in.env.GetId(), Reason: err.Error()})
			r.log.Warn("envelope refused", "peer", h.p.kind.String(), "peer_id", h.p.id, "id", in.env.GetId(), "reason", err.Error())
			continue
		}
		items = append(items, in)
		raws = append(raws, raw)
	}
	if len(items) == 0 {
		ack(rejected)
		return
	}
	// then runs on the store's writer: ack must not block (Link acks don't).
	then := func(err error) {
		if err != nil {
			// No ack: closing the link makes the sender resend on the next one.
			r.log.Error("commit batch", "err", err)
			go h.conn.Close("relay could not store the batch")
			return
		}
		ack(rejected)
	}
	if h.p.kind == peerClient {
		r.intake.storeClientBatch(h.p.id, raws, items, now, then)
	} else {
		r.store.SubmitForwarded(func(tx *store.Tx) error { return r.storeInbound(tx, items, now) }, then)
	}
}

// accept decodes and checks one envelope from peer p and decides its queue.
func (r *Relay) accept(p peer, raw []byte, now time.Time) (inbound, error) {
	env, err := envelope.Decode(raw)
	if err != nil {
		return inbound{}, err
	}
	in := inbound{env: env}
	if err := envelope.Validate(env, r.cfg.Limits.MaxBodyBytes); err != nil {
		return in, err
	}
	if err := r.checkSender(p, env); err != nil {
		return in, err
	}
	if err := r.checkAge(env.Id, now); err != nil {
		return in, err
	}
	in.idKey = seenKey(env.Id, p.kind == peerParent)
	if audit.IsEvent(env) {
		return r.acceptAuditRecord(p, raw, in, now)
	}
	in.queue, in.dead = r.route(env.To, p)
	shortcut := r.cfg.Shortcut && p.kind != peerParent && in.dead == "" && in.queue != parentQueue
	if exp := env.ExpiresAt; exp != nil && exp.AsTime().Before(now) {
		in.queue, in.dead = "", reasonExpired
	}
	in.raw = envelope.AppendHop(raw, r.cfg.ID, now)
	outcome := "queued: " + string(in.queue)
	if in.dead != "" {
		outcome = "dead: " + in.dead
	}
	if r.cfg.Role == config.RoleMain {
		in.auditRec = audit.Record(env, len(in.raw), now, outcome)
	}
	if shortcut {
		in.shortcutRec = r.newAuditEvent(&in, now, outcome)
	}
	return in, nil
}

// checkSender refuses envelopes whose from does not match the link.
func (r *Relay) checkSender(p peer, env *pb.Envelope) error {
	switch p.kind {
	case peerClient:
		if env.From.Relay != r.cfg.ID || env.From.Client != p.id {
			return fmt.Errorf("from %s does not match this link's client %s/%s", envelope.FormatAddress(env.From), r.cfg.ID, p.id)
		}
	case peerChild:
		r.mu.RLock()
		via := r.routes[env.From.Relay]
		r.mu.RUnlock()
		if via != p.id {
			return fmt.Errorf("from relay %s is not in the subtree of child %s", env.From.Relay, p.id)
		}
	}
	return nil
}

// checkAge refuses an envelope whose id (a UUIDv7, dated by its sender)
// is older than limits.max_ttl or more than config.MaxClockSkew ahead of
// now: the relay remembers ids for that window after receiving them, so a
// retransmission it accepts is always recognised as one.
func (r *Relay) checkAge(id string, now time.Time) error {
	t, err := envelope.IDTime(id)
	if err != nil {
		return err
	}
	switch {
	case now.Sub(t) > r.cfg.Limits.MaxTTL:
		return fmt.Errorf("id %s was made %s ago, longer than limits.max_ttl %s: send it again as a new envelope (with a new id)",
			id, now.Sub(t).Round(time.Second), r.cfg.Limits.MaxTTL)
	case t.Sub(now) > config.MaxClockSkew:
		return fmt.Errorf("id %s is dated %s ahead of this relay's clock, more than the %s allowed: check the sender's clock",
			id, t.Sub(now).Round(time.Second), config.MaxClockSkew)
	}
	return nil
}

// route returns the queue for an envelope to address to, or why there is
// none.
func (r *Relay) route(to *pb.Address, from peer) (q Queue, dead string) {
	target := to.GetRelay()
	// Without shortcut a node sends everything from below up to main, which
	// routes and audits all traffic; only what comes down from its parent
	// is delivered here or below.
	if r.cfg.Role == config.RoleNode && !r.cfg.Shortcut && from.kind != peerParent {
		return parentQueue, ""
	}
	if target == r.cfg.ID {
		return clientQueue(to.GetClient()), ""
	}
	r.mu.RLock()
	child, ok := r.routes[target]
	r.mu.RUnlock()
	switch {
	case ok:
		return childQueue(child), ""
	case r.cfg.Role == config.RoleMain:
		return "", "unknown relay " + target
	case from.kind == peerParent:
		return "", fmt.Sprintf("relay %s is not under %s", target, r.cfg.ID)
	}
	return parentQueue, ""
}

// seenKey is the dedupe key of an envelope at this relay: its id, and
// whether it came down from the parent. Without shortcut an envelope may
// pass a node twice, up to main and back down to a local client, and the
// second pass is not a duplicate of the first.
func seenKey(id string, fromParent bool) []byte {
	key, _ := envelope.IDKey(id)
	if fromParent {
		return append(key, 1)
	}
	return append(key, 0)
}

// storeInbound runs inside a group commit: dedupe, enqueue or dead-letter,
// and audit at main.
func (r *Relay) storeInbound(tx *store.Tx, items []inbound, now time.Time) error {
	for i := range items {
		in := &items[i]
		if in.idKey != nil { // nil: an unreadable id, dead-lettered as it is
			dup, err := tx.Seen(in.idKey)
			if err != nil {
				return err
			}
			if dup {
				continue
			}
		}
		if in.audit {
			if in.dead != "" {
				// Kept aside, no receipt: the sender is a relay.
				if err := tx.DeadLetter(string(auditQueue), in.raw, in.dead); err != nil {
					return err
				}
			} else if err := tx.Audit(now, in.env.Body); err != nil {
				return err
			}
			continue
		}
		if in.dead != "" {
			status := pb.ReceiptStatus_RECEIPT_STATUS_UNDELIVERABLE
			if in.dead == reasonExpired {
				status = pb.ReceiptStatus_RECEIPT_STATUS_EXPIRED
			}
			if err := r.deadLetter(tx, inboundQueue, in.env, in.raw, in.dead, status); err != nil {
				return err
			}
		} else if _, err := tx.Enqueue(string(r.reroute(in.queue, in.env.To)), in.raw); err != nil {
			return err
		} else if err := r.grantFiles(tx, in.queue, in.env, now); err != nil {
			return err
		}
		if in.auditRec != nil {
			if err := tx.Audit(now, in.auditRec); err != nil {
				return err
			}
		}
		if ev := in.shortcutRec; ev != nil {
			if _, err := tx.Seen(ev.key); err != nil {
				return err
			}
			if _, err := tx.Enqueue(string(parentQueue), ev.raw); err != nil {
				return err
			}
		}
	}
	return nil
}
