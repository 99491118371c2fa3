package relay

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/medrelay/medrelay/envelope"

	"github.com/medrelay/medrelay/relay/journal"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// A client waits for each of its batches to be durable before it sends
// more, so the time to make a batch durable bounds a single sender. The
// intake journal (package journal) makes a client's batch durable with one
// fdatasync, instead of the two of a bbolt commit; the relay acknowledges
// then, and applies the batch to the store in the next paced group commit.
// Each application records the journal record's number in the same
// commit, so after a crash exactly the records not applied are applied
// again, before the relay serves anyone.

// durability makes an accepted client batch durable, then calls done
// (with nil: the batch may be acknowledged); relay.New picks one of its
// two implementations from intake_journal.
type durability interface {
	// storeClientBatch makes a client's accepted envelopes (raws, decoded
	// in items) durable, then calls done. done must not block.
	storeClientBatch(client string, raws [][]byte, items []inbound, now time.Time, done func(error))
	// status reports the journal's state for /v1/status.
	status() (state string, batches, bypassed uint64)
	// unapplied reports how many acknowledged batches wait for the store
	// because applying them failed, and why (0 and "" when none wait).
	unapplied() (int, string)
	// close ends the journal, if any, before the store closes.
	close() error
}

var (
	_ durability = directIntake{}
	_ durability = (*journaledIntake)(nil)
)

// directIntake stores each client batch in a bbolt group commit, and
// calls done after it (intake_journal: false, and the fallback of a
// journal that is full or failed).
type directIntake struct{ r *Relay }

func (d directIntake) storeClientBatch(_ string, _ [][]byte, items []inbound, now time.Time, done func(error)) {
	d.r.store.SubmitThen(func(tx *store.Tx) error { return d.r.storeInbound(tx, items, now) }, done)
}

func (directIntake) status() (string, uint64, uint64) { return "off", 0, 0 }

func (directIntake) unapplied() (int, string) { return 0, "" }

func (directIntake) close() error { return nil }

// journaledIntake acknowledges a client batch once the intake journal
// holds it, and applies it to the store in a later commit.
type journaledIntake struct {
	r      *Relay
	direct directIntake
	j      *journal.Journal
	// why is set when a journal write or an application failed: later
	// batches then go straight to the store, where a failing disk shows
	// on their link.
	why      atomic.Pointer[string]
	batches  atomic.Uint64 // acknowledged from the journal
	bypassed atomic.Uint64 // stored without it
	stall    stall         // batches the store failed to apply (intakestall.go)
}

// fail stops the journal's use until the relay restarts, saying why.
func (in *journaledIntake) fail(why string) { in.why.CompareAndSwap(nil, &why) }

func (in *journaledIntake) failed() bool { return in.why.Load() != nil }

func (in *journaledIntake) close() error {
	in.stall.stopRetry()
	return in.j.Close()
}

func (in *journaledIntake) status() (state string, batches, bypassed uint64) {
	state = "ok"
	if why := in.why.Load(); why != nil {
		state = "failed: " + *why
	}
	if n, why := in.unapplied(); n > 0 {
		state = fmt.Sprintf("stalled: %d acknowledged batches wait for the store: %s", n, why)
	}
	return state, in.batches.Load(), in.bypassed.Load()
}

// openIntake opens the journal in the data dir, applies the records a
// crash left unapplied, and sets r.intake. With intake_journal: false it
// then closes the journal (the records of an earlier run are applied all
// the same) and stores client batches directly.
func (r *Relay) openIntake() error {
	applied, err := r.store.JournalApplied()
	if err != nil {
		return fmt.Errorf("read journal position: %w", err)
	}
	j, recs, err := journal.Open(r.cfg.DataDir, applied, journal.Options{})
	if err != nil {
		return err
	}
	if n, where := j.Dropped(); n > 0 {
		r.log.Error("intake journal records dropped at a bad checksum: their client batches are lost unless their clients send them again "+
			"(one record at the end is a write torn by a crash, never acknowledged)", "records", n, "where", strings.Join(where, "; "))
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
				// Acknowledged, so not dropped: a dead letter, with a
				// receipt to its sender.
				in = r.refusedOnReplay(raw, now, err)
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
		r.intake = directIntake{r}
		return j.Close()
	}
	r.intake = &journaledIntake{r: r, direct: directIntake{r}, j: j, stall: stall{stop: make(chan struct{})}}
	return nil
}

// refusedOnReplay makes a dead letter of a journaled envelope that the
// relay no longer accepts (its config changed since: an id, a limit, a
// route), which its client was told was stored.
func (r *Relay) refusedOnReplay(raw []byte, now time.Time, why error) inbound {
	env, err := envelope.Decode(raw)
	if err != nil {
		env = &pb.Envelope{Kind: pb.Kind_KIND_RECEIPT} // unreadable: no receipt
	}
	in := inbound{env: env, raw: envelope.AppendHop(raw, r.cfg.ID, now), dead: "refused when the intake journal was applied: " + why.Error()}
	if _, err := envelope.IDKey(env.Id); err == nil {
		in.idKey = seenKey(env.Id, false)
	}
	return in
}

// storeClientBatch goes through the journal when it can, and stores the
// batch directly when it cannot (the journal is full, closing or failed).
func (in *journaledIntake) storeClientBatch(client string, raws [][]byte, items []inbound, now time.Time, done func(error)) {
	r := in.r
	// While acknowledged batches wait for the store, a batch stored
	// directly would overtake them: it is refused instead (the client
	// sends it again later).
	direct := func() {
		if err := in.stalledErr(); err != nil {
			done(err)
			return
		}
		in.direct.storeClientBatch(client, raws, items, now, done)
	}
	if in.failed() {
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
		done(nil)
		in.apply(journaled{seq: seq, items: items, now: now})
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
