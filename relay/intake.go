package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/medrelay/medrelay/relay/journal"
	"github.com/medrelay/medrelay/relay/store"
)

// A client waits for each of its batches to be durable before it sends
// more, so the time to make a batch durable bounds a single sender. The
// intake journal (package journal) makes a client's batch durable with one
// fdatasync, instead of the two of a bbolt commit; the relay acknowledges
// then, and applies the batch to the store in the next paced group commit.
// Each application records the journal record's number in the same
// commit, so after a crash exactly the records not applied are applied
// again, before the relay serves anyone.

// intake is the journal and what the relay knows of it.
type intake struct {
	j *journal.Journal
	// why is set when a journal write or an application failed: later
	// batches then go straight to the store, where a failing disk shows
	// on their link.
	why      atomic.Pointer[string]
	batches  atomic.Uint64 // acknowledged from the journal
	bypassed atomic.Uint64 // stored without it
}

// fail stops the journal's use until the relay restarts, saying why.
func (in *intake) fail(why string) { in.why.CompareAndSwap(nil, &why) }

func (in *intake) failed() bool { return in.why.Load() != nil }

// status reports the journal's state for /v1/status.
func (in *intake) status() (state string, batches, bypassed uint64) {
	if in == nil {
		return "off", 0, 0
	}
	state = "ok"
	if why := in.why.Load(); why != nil {
		state = "failed: " + *why
	}
	return state, in.batches.Load(), in.bypassed.Load()
}

// openIntake opens the journal in the data dir and applies the records a
// crash left unapplied. With intake_journal: false it then closes it: the
// records of an earlier run are applied all the same.
func (r *Relay) openIntake() error {
	applied, err := r.store.JournalApplied()
	if err != nil {
		return fmt.Errorf("read journal position: %w", err)
	}
	j, recs, err := journal.Open(r.cfg.DataDir, applied, journal.Options{})
	if err != nil {
		return err
	}
	var dones []<-chan error
	for _, rec := range recs {
		client, now, raws, err := decodeIntake(rec.Data)
		if err != nil {
			// The record passed its checksum, so this is a bug, not a torn
			// write: keep it for a newer version rather than skip it.
			j.Close()
			return fmt.Errorf("intake journal record %d in %s: %w; a newer medrelay may read it, "+
				"or move journal-0 and journal-1 out of data_dir to start without the client batches they hold",
				rec.Seq, r.cfg.DataDir, err)
		}
		p := peer{kind: peerClient, id: client}
		var items []inbound
		for _, raw := range raws {
			in, err := r.accept(p, raw, now)
			if err != nil {
				r.log.Warn("journaled envelope refused", "client", client, "id", in.env.GetId(), "reason", err.Error())
				continue
			}
			items = append(items, in)
		}
		// Submitted in order without waiting: group commits apply many.
		dones = append(dones, r.store.Submit(r.applyJournaled(rec.Seq, items, now)))
	}
	for k, done := range dones {
		if err := <-done; err != nil {
			j.Close()
			return fmt.Errorf("apply intake journal record %d: %w", recs[k].Seq, err)
		}
		j.Applied(recs[k].Seq)
	}
	if len(recs) > 0 {
		r.log.Info("applied client batches the intake journal held", "records", len(recs))
	}
	if !r.cfg.UsesIntakeJournal() {
		return j.Close()
	}
	r.intake = &intake{j: j}
	return nil
}

// storeClientBatch makes a client's accepted envelopes (raws, decoded in
// items) durable, then calls ack. It goes through the journal when it can,
// and calls direct to store them the slow way when it cannot.
func (r *Relay) storeClientBatch(client string, raws [][]byte, items []inbound, now time.Time, ack, direct func()) {
	in := r.intake
	if in == nil || in.failed() {
		direct()
		return
	}
	in.j.Append(encodeIntake(client, now, raws), func(seq uint64, err error) {
		switch {
		case errors.Is(err, journal.ErrFull) || errors.Is(err, journal.ErrClosed):
			in.bypassed.Add(1)
			direct()
			return
		case err != nil:
			in.fail(err.Error())
			r.log.Error("intake journal failed; client batches now go straight to the store", "err", err)
			in.bypassed.Add(1)
			direct()
			return
		}
		in.batches.Add(1)
		ack()
		r.store.SubmitForwarded(r.applyJournaled(seq, items, now), func(err error) {
			switch {
			case err == nil:
				in.j.Applied(seq)
			case errors.Is(err, store.ErrClosed):
				// Applied when the relay starts again.
			default:
				in.fail(fmt.Sprintf("record %d not applied: %v", seq, err))
				r.log.Error("could not apply a journaled client batch; it is applied when the relay restarts",
					"record", seq, "err", err)
			}
		})
	})
}

// applyJournaled stores the envelopes of journal record seq, once: a
// record already applied changes nothing, and records are applied in
// order, so that the number stored covers every record before it.
func (r *Relay) applyJournaled(seq uint64, items []inbound, now time.Time) func(*store.Tx) error {
	return func(tx *store.Tx) error {
		applied := tx.JournalApplied()
		if seq <= applied {
			return nil
		}
		if seq != applied+1 {
			return fmt.Errorf("journal record %d comes after %d: the records between were not applied", seq, applied)
		}
		if err := r.storeInbound(tx, items, now); err != nil {
			return err
		}
		return tx.SetJournalApplied(seq)
	}
}

// encodeIntake encodes a journal record: the client, the time of receipt,
// and the envelopes as the client sent them.
func encodeIntake(client string, now time.Time, raws [][]byte) []byte {
	n := len(client) + 3*binary.MaxVarintLen64
	for _, raw := range raws {
		n += len(raw) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(client)))
	b = append(b, client...)
	b = binary.AppendVarint(b, now.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(raws)))
	for _, raw := range raws {
		b = binary.AppendUvarint(b, uint64(len(raw)))
		b = append(b, raw...)
	}
	return b
}

var errIntakeRecord = errors.New("malformed intake record")

func decodeIntake(b []byte) (client string, now time.Time, raws [][]byte, err error) {
	next := func() []byte {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			err = errIntakeRecord
			return nil
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v
	}
	client = string(next())
	nanos, k := binary.Varint(b)
	if err != nil || k <= 0 {
		return "", time.Time{}, nil, errIntakeRecord
	}
	b = b[k:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return "", time.Time{}, nil, errIntakeRecord
	}
	b = b[k:]
	for range count {
		raw := next()
		if err != nil {
			return "", time.Time{}, nil, err
		}
		raws = append(raws, raw)
	}
	if len(b) != 0 {
		return "", time.Time{}, nil, errIntakeRecord
	}
	return client, time.Unix(0, nanos), raws, nil
}
