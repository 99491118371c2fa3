package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func (d *Deliverer) startDownload(ctx context.Context, tr *store.Transfer, in *store.Instance) {
	id := string(tr.Key()) + "\x00" + in.SOPInstanceUID
	d.mu.Lock()
	if d.inflight[id] || time.Now().Before(d.retryAt[id]) {
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	select {
	case d.sem <- struct{}{}:
	default:
		return // all slots busy: the next step starts it
	}
	d.mu.Lock()
	d.inflight[id] = true
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		wait := d.download(ctx, tr, in)
		<-d.sem
		d.mu.Lock()
		delete(d.inflight, id)
		if wait > 0 {
			d.retryAt[id] = time.Now().Add(wait)
		} else {
			delete(d.retryAt, id)
		}
		d.mu.Unlock()
		d.Kick()
	}()
}

// download fetches and verifies one instance and records the outcome. It
// returns how long to wait before trying again (0: no retry needed).
func (d *Deliverer) download(ctx context.Context, tr *store.Transfer, in *store.Instance) time.Duration {
	path := filepath.Join(d.opts.Dir, tr.StudyUID, in.SOPInstanceUID+"."+in.SHA256[:16]+".dcm")
	ref := &pb.FileRef{Store: in.Holder, Bucket: in.Bucket, Key: in.Key, Size: in.Size, Sha256: in.SHA256, MediaType: "application/dicom"}
	var err error
	if _, serr := os.Stat(path); serr != nil { // a verified file is kept from an earlier try
		err = d.opts.Relay.Download(ctx, ref, path)
	}
	if ctx.Err() != nil {
		return 0
	}
	var wait time.Duration
	uerr := d.opts.Store.Commit(func(tx *store.Tx) error {
		cur, err2 := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err2 != nil || cur.Round != tr.Round || cur.Gen != tr.Gen {
			return errGone
		}
		ci, err2 := tx.Instance(cur, in.SOPInstanceUID)
		if err2 != nil || ci.State != store.IPending || ci.SHA256 != in.SHA256 {
			return errGone
		}
		switch {
		case err == nil:
			ci.State, ci.Path, ci.Reason = store.IDownloaded, path, ""
			cur.Downloaded++
			if strings.HasPrefix(cur.Error, "download: ") {
				cur.Error = ""
			}
		case errors.Is(err, filestore.ErrChecksumMismatch):
			ci.State, ci.Step = store.IFailed, "verify"
			ci.Reason = "the object does not match the manifest (size or SHA-256): " + err.Error()
			cur.Failed++
			d.logFailure(cur, ci)
		case errors.Is(err, filestore.ErrNotFound) && ci.Asked == 0:
			ci.Key = "" // ask the sender again
			d.opts.Logger.Warn("object missing from storage; asking the sender", "step", "download", "study", cur.StudyUID, "instance", ci.SOPInstanceUID)
		case errors.Is(err, filestore.ErrNotFound):
			ci.State, ci.Step = store.IFailed, "download"
			ci.Reason = "object not in storage: the sending gateway did not upload it (" + err.Error() + ")"
			cur.Failed++
			d.logFailure(cur, ci)
		default:
			// The relay or the storage is unreachable or failing: that
			// passes, so the download is retried for as long as it takes.
			ci.Attempts++
			ci.Reason, ci.Step = err.Error(), "download"
			cur.Error = "download: " + err.Error()
			wait = d.backoff(ci.Attempts)
			d.opts.Logger.Warn("download failed; will retry", "step", "download", "study", cur.StudyUID, "instance", ci.SOPInstanceUID,
				"attempt", ci.Attempts, "err", err)
		}
		if err := tx.PutInstance(cur, ci); err != nil {
			return err
		}
		return tx.PutTransfer(cur)
	})
	if uerr != nil && !errors.Is(uerr, errGone) {
		d.opts.Logger.Error("download not recorded", "step", "download", "study", tr.StudyUID, "instance", in.SOPInstanceUID, "err", uerr)
		return time.Second
	}
	return wait
}

// request asks the sender for instances missing here (reconciliation):
// only those, once; the supplement answering it resets them to pending.
func (d *Deliverer) request(ctx context.Context, tr *store.Transfer, ins []*store.Instance) {
	rq := manifest.RequestBody{StudyUID: tr.StudyUID, Round: tr.Round}
	for _, in := range ins {
		rq.Instances = append(rq.Instances, in.SOPInstanceUID)
	}
	body, _ := json.Marshal(rq)
	if len(body) > manifest.InlineLimit {
		rq.Instances = rq.Instances[:len(rq.Instances)/2]
		ins = ins[:len(rq.Instances)]
		body, _ = json.Marshal(rq)
	}
	msg := relayconn.Message{ID: relayconn.NewID(), To: tr.Peer, Command: manifest.Request, Body: body,
		Args: map[string]string{"study_uid": tr.StudyUID, "instances": fmt.Sprint(len(ins))}, Correlation: tr.Correlation}
	if err := d.opts.Relay.Send(ctx, msg); err != nil {
		d.opts.Logger.Warn("request for missing instances not sent; will retry", "step", "reconcile", "study", tr.StudyUID, "err", err)
		return
	}
	err := d.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil || cur.Round != tr.Round {
			return err
		}
		for _, in := range ins {
			ci, err := tx.Instance(cur, in.SOPInstanceUID)
			if err != nil || ci.State != store.IPending || ci.Key != "" {
				continue
			}
			ci.State = store.IRequested
			ci.Asked++
			if err := tx.PutInstance(cur, ci); err != nil {
				return err
			}
		}
		cur.RequestedAt = time.Now().UTC()
		return tx.PutTransfer(cur)
	})
	if err != nil {
		d.opts.Logger.Error("request not recorded", "step", "reconcile", "study", tr.StudyUID, "err", err)
		return
	}
	d.opts.Logger.Info("missing instances asked for again", "step", "reconcile", "study", tr.StudyUID, "instances", len(ins))
}
