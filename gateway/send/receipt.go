package send

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func address(a *pb.Address) string { return a.GetRelay() + "/" + a.GetClient() }

// HandleReceipt takes a study.received envelope: it records the counts,
// remembers what the destination now holds (so it is not sent again),
// tells the applications that asked for the transfer, and lets the loop
// clean up. A receipt for an older round is logged and dropped.
func (s *Sender) HandleReceipt(ctx context.Context, env *pb.Envelope) error {
	var r manifest.Receipt
	if err := json.Unmarshal(env.GetBody(), &r); err != nil || !manifest.ValidUID(r.StudyUID) {
		s.opts.Logger.Warn("receipt refused: body is not a receipt", "step", "receipt", "from", address(env.GetFrom()), "err", err)
		return nil
	}
	from := address(env.GetFrom())
	log := s.opts.Logger.With("step", "receipt", "study", r.StudyUID, "peer", from)
	var tr *store.Transfer
	err := s.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(store.Outgoing, r.StudyUID, from)
		if err != nil {
			return err
		}
		if cur.Round != r.Round || cur.Terminal() {
			return errNotReady
		}
		failed := map[string]bool{}
		cur.Failures = nil
		for _, f := range r.Failures {
			failed[f.SOPInstanceUID] = true
			cur.Failures = append(cur.Failures, store.Failure(f))
		}
		err = tx.Instances(cur, func(in *store.Instance) error {
			if failed[in.SOPInstanceUID] {
				return nil
			}
			return tx.SetSent(cur.Peer, cur.Destination, in.SOPInstanceUID, in.SHA256)
		})
		if err != nil {
			return err
		}
		cur.Stored, cur.AlreadyPresent, cur.Failed, cur.NewVersions = r.Stored, r.AlreadyPresent, r.Failed, r.NewVersions
		cur.State, cur.Error = store.Acknowledged, ""
		if r.Failed > 0 {
			cur.State, cur.Error = store.Failed, failureSummary(r.Failures)
		}
		cur.Finished = time.Now().UTC()
		tr = cur
		return tx.PutTransfer(cur)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Warn("receipt for a study this gateway did not send")
		return nil
	case errors.Is(err, errNotReady):
		log.Info("receipt for an earlier round dropped", "round", r.Round)
		return nil
	case err != nil:
		return err
	}
	log.Info("receipt", "state", tr.State, "instances", r.Instances, "stored", r.Stored, "already_present", r.AlreadyPresent,
		"failed", r.Failed, "new_versions", len(r.NewVersions))
	for _, f := range r.Failures {
		log.Warn("instance not delivered", "instance", f.SOPInstanceUID, "status", f.Status, "reason", f.Reason, "at", f.Step)
	}
	for _, to := range tr.Requesters {
		m := relayconn.Message{ID: relayconn.NewID(), To: to, Command: manifest.Received, Args: env.GetArgs(), Body: env.GetBody()}
		if err := s.opts.Relay.Send(ctx, m); err != nil {
			log.Warn("receipt not forwarded to the requesting application", "to", to, "err", err)
		}
	}
	s.Kick()
	return nil
}

func failureSummary(fs []manifest.Failure) string {
	if len(fs) == 0 {
		return ""
	}
	f := fs[0]
	msg := fmt.Sprintf("%d instance(s) not delivered; first: %s at %s: %s", len(fs), f.SOPInstanceUID, f.Step, f.Reason)
	if f.Status != "" {
		msg += " (status " + f.Status + ")"
	}
	return msg
}

// HandleRequest answers study.request (reconciliation): it uploads again
// the instances asked for that are still staged and announces them in a
// supplement; the others are listed as unavailable, with the reason.
func (s *Sender) HandleRequest(ctx context.Context, env *pb.Envelope) error {
	var rq manifest.RequestBody
	if err := json.Unmarshal(env.GetBody(), &rq); err != nil || !manifest.ValidUID(rq.StudyUID) {
		s.opts.Logger.Warn("request refused: body is not a study request", "step", "reconcile", "err", err)
		return nil
	}
	from := address(env.GetFrom())
	log := s.opts.Logger.With("step", "reconcile", "study", rq.StudyUID, "peer", from)
	m := manifest.Manifest{StudyUID: rq.StudyUID, Round: rq.Round, Supplement: true, Series: map[string]int{}}
	var tr *store.Transfer
	ins := map[string]*store.Instance{}
	s.opts.Store.View(func(tx *store.Tx) error {
		cur, err := tx.Transfer(store.Outgoing, rq.StudyUID, from)
		if err != nil {
			return err
		}
		tr = cur
		return tx.Instances(cur, func(in *store.Instance) error {
			ins[in.SOPInstanceUID] = in
			return nil
		})
	})
	rel, self := s.opts.Relay.Self()
	for _, sop := range rq.Instances {
		in := ins[sop]
		if tr == nil || in == nil {
			m.Unavailable = append(m.Unavailable, manifest.Unavailable{SOPInstanceUID: sop, Reason: "not part of this study at the sending gateway"})
			continue
		}
		if _, err := os.Stat(in.Path); in.Path == "" || err != nil {
			m.Unavailable = append(m.Unavailable, manifest.Unavailable{SOPInstanceUID: sop, Reason: "no longer staged at the sending gateway; send the study again"})
			continue
		}
		key := manifest.ObjectKey(rel, self, rq.StudyUID, sop, in.SHA256)
		ref, err := s.opts.Relay.Upload(ctx, in.Path, key, "application/dicom")
		if err != nil {
			log.Warn("upload for a request failed", "instance", sop, "err", err)
			if ctx.Err() != nil {
				return ctx.Err() // leave the request queued
			}
			m.Unavailable = append(m.Unavailable, manifest.Unavailable{SOPInstanceUID: sop, Reason: "upload failed: " + err.Error()})
			continue
		}
		m.Store, m.Bucket = ref.GetStore(), ref.GetBucket()
		m.Instances = append(m.Instances, manifest.Instance{SOPClassUID: in.SOPClassUID, SOPInstanceUID: sop, SeriesUID: in.SeriesUID,
			TransferSyntax: in.TransferSyntax, Size: in.Size, SHA256: in.SHA256, Key: key})
		m.Series[in.SeriesUID]++
	}
	if tr != nil {
		m.Destination = tr.Destination
	} else {
		tr = &store.Transfer{Peer: from, StudyUID: rq.StudyUID}
	}
	msg, err := s.availableMessage(ctx, tr, relayconn.NewID(), &m)
	if err == nil {
		msg.Correlation = env.GetId()
		err = s.opts.Relay.Send(ctx, msg)
	}
	if err != nil {
		log.Warn("supplement not sent", "err", err)
		return err
	}
	log.Info("missing instances sent again", "asked", len(rq.Instances), "sent", len(m.Instances), "unavailable", len(m.Unavailable),
		"round", strconv.Itoa(rq.Round), "unavailable_first", firstUnavailable(m.Unavailable))
	return nil
}

func firstUnavailable(u []manifest.Unavailable) string {
	if len(u) == 0 {
		return ""
	}
	return strings.Join([]string{u[0].SOPInstanceUID, u[0].Reason}, ": ")
}
