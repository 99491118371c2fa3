package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/store"
)

// finish sends the receipt of a transfer whose instances are all settled
// and marks it acknowledged (or failed). The receipt's envelope id is
// persisted before sending, so a repeat after a crash is deduped.
func (d *Deliverer) finish(ctx context.Context, tr *store.Transfer) {
	var r manifest.Receipt
	var id string
	err := d.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil || cur.Round != tr.Round || cur.Gen != tr.Gen || cur.Terminal() {
			return errGone
		}
		r = manifest.Receipt{StudyUID: cur.StudyUID, Round: cur.Round, Destination: cur.Destination}
		cur.Stored, cur.AlreadyPresent, cur.Failed, cur.Failures, cur.NewVersions = 0, 0, 0, nil, nil
		err = tx.Instances(cur, func(in *store.Instance) error {
			r.Instances++
			switch in.State {
			case store.IStored:
				r.Stored++
			case store.IAlreadyPresent:
				r.AlreadyPresent++
			case store.IFailed:
				r.Failed++
				f := manifest.Failure{SOPInstanceUID: in.SOPInstanceUID, Status: in.Status, Reason: in.Reason, Step: in.Step}
				r.Failures = append(r.Failures, f)
				cur.Failures = append(cur.Failures, store.Failure(f))
			default:
				return errGone // not settled after all
			}
			if in.NewVersion {
				r.NewVersions = append(r.NewVersions, in.SOPInstanceUID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		cur.Stored, cur.AlreadyPresent, cur.Failed, cur.NewVersions = r.Stored, r.AlreadyPresent, r.Failed, r.NewVersions
		if cur.ReceiptID == "" {
			cur.ReceiptID = relayconn.NewID()
		}
		id = cur.ReceiptID
		*tr = *cur
		return tx.PutTransfer(cur)
	})
	if err != nil {
		return
	}
	body, _ := json.Marshal(r)
	for len(body) > manifest.InlineLimit && len(r.Failures) > 0 { // keep the receipt within the body limit
		r.Failures = r.Failures[:len(r.Failures)/2]
		body, _ = json.Marshal(r)
	}
	msg := relayconn.Message{ID: id, To: tr.Peer, Command: manifest.Received, Body: body, Correlation: tr.Correlation,
		Args: map[string]string{"study_uid": r.StudyUID, "round": strconv.Itoa(r.Round), "instances": strconv.Itoa(r.Instances),
			"stored": strconv.Itoa(r.Stored), "already_present": strconv.Itoa(r.AlreadyPresent), "failed": strconv.Itoa(r.Failed),
			"destination": r.Destination}}
	log := d.opts.Logger.With("step", "receipt", "study", tr.StudyUID, "peer", tr.Peer)
	if err := d.opts.Relay.Send(ctx, msg); err != nil {
		log.Warn("receipt not sent; will retry", "err", err)
		return
	}
	state := store.Acknowledged
	if r.Failed > 0 {
		state = store.Failed
	}
	d.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil || cur.ReceiptID != id {
			return err
		}
		cur.State, cur.Finished, cur.Error = state, time.Now().UTC(), ""
		if len(r.Failures) > 0 {
			f := r.Failures[0]
			cur.Error = fmt.Sprintf("%d instance(s) not delivered; first: %s at %s: %s", r.Failed, f.SOPInstanceUID, f.Step, f.Reason)
			if f.Status != "" {
				cur.Error += " (status " + f.Status + ")"
			}
		}
		return tx.PutTransfer(cur)
	})
	log.Info("study delivered; receipt sent", "state", state, "destination", tr.Destination, "instances", r.Instances,
		"stored", r.Stored, "already_present", r.AlreadyPresent, "failed", r.Failed, "new_versions", len(r.NewVersions), "bytes", tr.Bytes)
}

// cleanup removes the downloaded copies of a finished transfer.
func (d *Deliverer) cleanup(tr *store.Transfer) {
	os.RemoveAll(filepath.Join(d.opts.Dir, tr.StudyUID))
	d.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil || cur.Gen != tr.Gen || !cur.Terminal() {
			return err
		}
		cur.Cleaned = true
		return tx.PutTransfer(cur)
	})
}
