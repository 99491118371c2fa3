package relay

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/relay/audit"
	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/store"
)

func (r *Relay) serveDeadLetters(w http.ResponseWriter, _ *http.Request) {
	d, err := r.store.DeadLetters(1000)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out := []adminapi.DeadLetter{}
	for _, x := range d {
		it := adminapi.DeadLetter{Seq: x.Seq, Queue: x.Queue, Reason: x.Reason, At: x.At}
		if env, err := envelope.Decode(x.Raw); err == nil {
			it.ID, it.From, it.To, it.Command = env.Id, envelope.FormatAddress(env.From), envelope.FormatAddress(env.To), env.Command
		}
		out = append(out, it)
	}
	writeJSON(w, out)
}

// Errors of Replay.
var (
	ErrReplayExpired = errors.New("its expires_at has passed: the sender must send it again")
	ErrNoRoute       = errors.New("still no route")
	ErrAuditRecord   = errors.New("it is an audit record main refused: it stays aside as evidence, and is not replayed")
)

// Replay takes dead letter seq back into routing, as if it had just come
// from below (so a node sends it up to main), for when its cause is gone:
// a relay that was unknown has joined, say. The sender already has an
// error receipt for it; the target may now receive it after all. It
// returns the queue the envelope went to.
func (r *Relay) Replay(seq uint64) (string, error) {
	d, err := r.store.DeadLetterBySeq(seq)
	if err != nil {
		return "", err
	}
	env, err := envelope.Decode(d.Raw)
	if err != nil {
		return "", fmt.Errorf("dead letter %d: %w", seq, err)
	}
	if d.Queue == string(auditQueue) {
		return "", fmt.Errorf("dead letter %d: %w", seq, ErrAuditRecord)
	}
	now := time.Now()
	if exp := env.ExpiresAt; exp != nil && exp.AsTime().Before(now) {
		return "", fmt.Errorf("dead letter %d: %w", seq, ErrReplayExpired)
	}
	queue, dead := r.route(env.To, peer{kind: peerClient})
	if dead != "" {
		return "", fmt.Errorf("dead letter %d: %w: %s", seq, ErrNoRoute, dead)
	}
	err = r.store.Update(func(tx *store.Tx) error {
		if err := tx.RemoveDeadLetter(seq); err != nil {
			return err
		}
		if _, err := tx.Enqueue(string(queue), d.Raw); err != nil {
			return err
		}
		if r.cfg.Role == config.RoleMain {
			return tx.Audit(now, audit.Record(env, len(d.Raw), now, "replayed: queued: "+string(queue)))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	r.log.Info("dead letter replayed", "seq", seq, "id", env.Id, "queue", queue)
	return string(queue), nil
}

// serveReplay is POST /v1/deadletters/{seq}/replay, for an admin (with
// auth on) or the relay's own machine (without auth): see Relay.admin.
func (r *Relay) serveReplay(w http.ResponseWriter, req *http.Request) {
	seq, err := strconv.ParseUint(req.PathValue("seq"), 10, 64)
	if err != nil {
		http.Error(w, "the dead letter's seq must be a number, as /v1/deadletters lists it", http.StatusBadRequest)
		return
	}
	queue, err := r.Replay(seq)
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, ErrReplayExpired), errors.Is(err, ErrNoRoute), errors.Is(err, ErrAuditRecord):
		http.Error(w, err.Error(), http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		writeJSON(w, map[string]any{"seq": seq, "queue": queue})
	}
}
