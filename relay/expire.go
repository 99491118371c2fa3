package relay

import (
	"time"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// expiryInterval is how often the relay looks for expired envelopes: a
// sender learns within about this long after expires_at that its envelope
// was not delivered, whether or not the queue's next hop is linked.
const expiryInterval = time.Second

// expireBatch bounds the envelopes expired in one commit.
const expireBatch = 1000

// expireLoop also probes a store whose last commit failed (probeStore).
//
// expireLoop moves envelopes whose expires_at has passed, in any queue, to
// the dead letters with an EXPIRED receipt to their senders. The store's
// expiry index finds them without reading the queues.
func (r *Relay) expireLoop() {
	t := time.NewTicker(expiryInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			r.probeStore()
			for r.expireDue(time.Now()) == expireBatch && r.ctx.Err() == nil {
			}
		}
	}
}

// probeStore tries a small commit while the store's last commit failed,
// so that /readyz and /metrics see a store that writes again even when no
// traffic comes to show it.
func (r *Relay) probeStore() {
	if r.store.Stats().CommitError == "" {
		return
	}
	if err := r.store.Probe(); err == nil {
		r.log.Info("the store writes again")
	}
}

// expireDue expires up to expireBatch envelopes due before now and
// returns how many it expired.
func (r *Relay) expireDue(now time.Time) int {
	due, err := r.store.Expired(now, expireBatch)
	if err != nil {
		r.log.Error("read expired envelopes", "err", err)
		return 0
	}
	if len(due) == 0 {
		return 0
	}
	n := 0
	err = r.store.Update(func(tx *store.Tx) error {
		n = 0
		for _, e := range due {
			// A pump may have it on its way, or had it acknowledged.
			if r.inFlight.has(Queue(e.Queue), e.Seq) || !tx.Queued(e.Queue, e.Seq) {
				continue
			}
			env, err := envelope.Decode(e.Raw)
			if err != nil {
				env = &pb.Envelope{Kind: pb.Kind_KIND_RECEIPT} // no receipt for what cannot be read
			}
			if err := r.deadLetter(tx, Queue(e.Queue), env, e.Raw, reasonExpired, pb.ReceiptStatus_RECEIPT_STATUS_EXPIRED); err != nil {
				return err
			}
			if err := tx.Remove(e.Queue, []uint64{e.Seq}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		r.log.Error("expire envelopes", "err", err)
		return 0
	}
	return n
}
