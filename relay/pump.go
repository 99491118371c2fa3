package relay

import (
	"context"
	"time"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Batch limits for what a pump sends in one frame, and how many of its
// batches may wait for acknowledgement at once. While two are in flight,
// new entries gather into the next batch instead of a frame each: the
// next hop acknowledges them in groups anyway (see store.SubmitForwarded),
// and fewer, larger batches cost both ends fewer syscalls and wake-ups.
const (
	pumpBatchMax   = 256
	pumpBatchBytes = 512 << 10
	pumpInFlight   = 2
)

// pump sends queue over c, oldest first, until c ends. An entry leaves the
// queue only when the peer acknowledges it; entries in flight when c ends
// are sent again on the next link (the next hop dedupes them).
func (r *Relay) pump(queue Queue, c link.Link, maxBatch int) {
	if maxBatch <= 0 || maxBatch > pumpBatchMax {
		maxBatch = pumpBatchMax
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	go func() {
		select {
		case <-c.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	sig := r.store.Signal(string(queue))
	var cursor uint64
	slots := make(chan struct{}, pumpInFlight)
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		entries, err := r.store.Read(string(queue), cursor, maxBatch, pumpBatchBytes)
		if err != nil {
			r.log.Error("read queue", "queue", queue, "err", err)
			c.Close("relay store error")
			return
		}
		if len(entries) == 0 {
			<-slots
			select {
			case <-sig:
			case <-ctx.Done():
			}
			continue
		}
		lo, hi := entries[0].Seq, entries[len(entries)-1].Seq
		cursor = hi
		r.inFlight.add(queue, lo, hi) // before the expiry check: see inFlight
		entries = r.dropExpired(queue, entries)
		if len(entries) == 0 {
			r.inFlight.remove(queue, lo, hi)
			<-slots
			continue
		}
		raws := make([][]byte, len(entries))
		for i, e := range entries {
			raws[i] = e.Raw
		}
		err = c.SendAsync(ctx, raws, func(ack *pb.Ack, err error) {
			if err == nil {
				r.acked(queue, entries, ack) // removals join the next commit
			}
			r.inFlight.remove(queue, lo, hi)
			<-slots
		})
		if err != nil {
			r.inFlight.remove(queue, lo, hi)
			return
		}
	}
}

// acked removes acknowledged entries. Refused ones become dead letters
// with a receipt to their sender; envelopes a local client acknowledged
// that asked for a DELIVERED receipt get one.
func (r *Relay) acked(queue Queue, entries []store.Entry, ack *pb.Ack) {
	seqs := make([]uint64, len(entries))
	refused := make(map[uint32]string, len(ack.Rejected))
	for _, rj := range ack.Rejected {
		refused[rj.Index] = rj.Reason
	}
	var delivered []store.Entry
	for i, e := range entries {
		seqs[i] = e.Seq
		if _, no := refused[uint32(i)]; !no && queue.isClient() &&
			envelope.WantsReceipt(e.Raw, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED) {
			delivered = append(delivered, e)
		}
	}
	if len(refused) == 0 && len(delivered) == 0 {
		r.store.RemoveLater(string(queue), seqs)
		return
	}
	r.store.Submit(func(tx *store.Tx) error {
		for i, reason := range refused {
			if int(i) >= len(entries) {
				continue
			}
			raw := entries[i].Raw
			env, err := envelope.Decode(raw)
			if err != nil {
				env = &pb.Envelope{Kind: pb.Kind_KIND_RECEIPT}
			}
			if err := r.deadLetter(tx, queue, env, raw, "refused by next hop: "+reason, pb.ReceiptStatus_RECEIPT_STATUS_UNDELIVERABLE); err != nil {
				return err
			}
		}
		for _, e := range delivered {
			env, err := envelope.Decode(e.Raw)
			if err != nil {
				continue
			}
			if err := r.queueReceipt(tx, env, pb.ReceiptStatus_RECEIPT_STATUS_DELIVERED, "delivered to "+envelope.FormatAddress(env.To)); err != nil {
				return err
			}
		}
		return tx.Remove(string(queue), seqs)
	})
}

// dropExpired moves expired entries to the dead letters (with an EXPIRED
// receipt) and returns the rest.
func (r *Relay) dropExpired(queue Queue, entries []store.Entry) []store.Entry {
	now := time.Now()
	live := entries[:0:0]
	var expired []store.Entry
	for _, e := range entries {
		if exp := envelope.ExpiresAt(e.Raw); !exp.IsZero() && exp.Before(now) {
			expired = append(expired, e)
			continue
		}
		live = append(live, e)
	}
	if len(expired) == 0 {
		return entries
	}
	err := r.store.Update(func(tx *store.Tx) error {
		for _, e := range expired {
			env, err := envelope.Decode(e.Raw)
			if err != nil || !tx.Queued(string(queue), e.Seq) { // the expiry loop took it
				continue
			}
			if err := r.deadLetter(tx, queue, env, e.Raw, reasonExpired, pb.ReceiptStatus_RECEIPT_STATUS_EXPIRED); err != nil {
				return err
			}
			if err := tx.Remove(string(queue), []uint64{e.Seq}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.log.Error("expire envelopes", "queue", queue, "err", err)
	}
	return live
}
