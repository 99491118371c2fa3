package relay

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// ReceiptCommand is the command of receipts relays make.
const ReceiptCommand = "medrelay.receipt"

// reasonExpired is the dead-letter reason of an envelope whose time ran out.
const reasonExpired = "expired before delivery"

// deadLetter stores an envelope that cannot be delivered and, unless it is
// itself a receipt, queues a receipt to its sender in the same transaction.
func (r *Relay) deadLetter(tx *store.Tx, queue Queue, env *pb.Envelope, raw []byte, reason string, status pb.ReceiptStatus) error {
	r.log.Warn("dead letter", "id", env.Id, "from", envelope.FormatAddress(env.From), "to", envelope.FormatAddress(env.To), "reason", reason)
	if err := tx.DeadLetter(string(queue), raw, reason); err != nil {
		return err
	}
	return r.queueReceipt(tx, env, status, reason)
}

// queueReceipt queues, in tx, a receipt about env to its sender. Receipts
// are never made about receipts, nor for senders no route leads to.
func (r *Relay) queueReceipt(tx *store.Tx, env *pb.Envelope, status pb.ReceiptStatus, reason string) error {
	if env.Kind == pb.Kind_KIND_RECEIPT || env.From == nil {
		return nil
	}
	rc := r.receipt(env, status, reason)
	q, dead := r.route(rc.To, peer{kind: peerClient})
	if dead != "" {
		return nil
	}
	key := seenKey(rc.Id, false)
	if _, err := tx.Seen(key); err != nil {
		return err
	}
	rraw, err := proto.Marshal(rc)
	if err != nil {
		return err
	}
	_, err = tx.Enqueue(string(q), envelope.AppendHop(rraw, r.cfg.ID, time.Now()))
	return err
}

// receipt makes a receipt about env from this relay to env's sender.
func (r *Relay) receipt(env *pb.Envelope, status pb.ReceiptStatus, reason string) *pb.Envelope {
	now := time.Now()
	return &pb.Envelope{
		Id:            envelope.NewID(),
		From:          &pb.Address{Relay: r.cfg.ID},
		To:            env.From,
		Command:       ReceiptCommand,
		CorrelationId: env.Id,
		CreatedAt:     timestamppb.New(now),
		Kind:          pb.Kind_KIND_RECEIPT,
		Receipt:       &pb.Receipt{Status: status, EnvelopeId: env.Id, Reason: reason},
	}
}
