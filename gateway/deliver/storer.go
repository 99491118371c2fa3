package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
	"github.com/medrelay/medrelay/gateway/store"
)

// startStorer runs the storer of a transfer unless one runs already.
func (d *Deliverer) startStorer(ctx context.Context, tr *store.Transfer) {
	key := string(tr.Key())
	d.mu.Lock()
	if d.storing[key] {
		d.mu.Unlock()
		return
	}
	d.storing[key] = true
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.storeAll(ctx, tr)
		d.mu.Lock()
		delete(d.storing, key)
		d.mu.Unlock()
		d.Kick()
	}()
}

// ready lists the downloaded instances due for an attempt, and every
// SOP class and transfer syntax of the transfer (for the association).
func (d *Deliverer) ready(tr *store.Transfer) (due []*store.Instance, pairs [][2]string, err error) {
	seen := map[[2]string]bool{}
	now := time.Now()
	err = d.opts.Store.View(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil || cur.Round != tr.Round || cur.Gen != tr.Gen {
			return errGone
		}
		return tx.Instances(cur, func(in *store.Instance) error {
			p := [2]string{in.SOPClassUID, in.TransferSyntax}
			if !seen[p] {
				seen[p] = true
				pairs = append(pairs, p)
			}
			if in.State == store.IDownloaded && !now.Before(in.NextTry) {
				due = append(due, in)
			}
			return nil
		})
	})
	return due, pairs, err
}

// storeAll C-STOREs the transfer's downloaded instances over one
// association, taking more as they are downloaded, until none is due.
func (d *Deliverer) storeAll(ctx context.Context, tr *store.Transfer) {
	var c *dimse.Client
	// Successes are recorded while the next instance is sent (group
	// commits); they are all recorded before the next look at what is
	// due, so nothing is sent twice for want of a record.
	var recording sync.WaitGroup
	defer func() {
		recording.Wait()
		if c != nil {
			c.Close()
		}
	}()
	for ctx.Err() == nil {
		recording.Wait()
		due, pairs, err := d.ready(tr)
		if err != nil || len(due) == 0 {
			return
		}
		peer, ok := d.cfg.Peer(tr.Destination)
		if !ok {
			for _, in := range due {
				d.outcome(tr, in, "", fmt.Sprintf("destination %q is not in this gateway's peers (add it, with host and port)", tr.Destination), true)
			}
			continue
		}
		if c == nil {
			req := ul.Request{CallingAE: d.cfg.OwnAET(), CalledAE: peer.AET, Contexts: contexts(pairs)}
			if c, err = dimse.Dial(ctx, peer.Addr(), req, nil); err != nil {
				c = nil
				reason := fmt.Sprintf("association with %s at %s failed: %v", peer.AET, peer.Addr(), err)
				for _, in := range due {
					d.outcome(tr, in, "", reason, false)
				}
				return
			}
		}
		for _, in := range due {
			if ctx.Err() != nil {
				return
			}
			st, comment, err := storeOne(ctx, c, in)
			switch {
			case errors.Is(err, dimse.ErrNoContext):
				d.outcome(tr, in, fmt.Sprintf("%04X", uint16(dimse.StatusSOPClassNotSupported)),
					fmt.Sprintf("%s accepted no presentation context for SOP class %s in %s", peer.AET, in.SOPClassUID, in.TransferSyntax), false)
			case err != nil && errors.Is(err, os.ErrNotExist):
				d.redownload(tr, in)
			case err != nil:
				d.outcome(tr, in, "", fmt.Sprintf("C-STORE to %s: %v", peer.AET, err), false)
				c.Assoc().Abort()
				c = nil
			case st.Category() == dimse.Success || st.Category() == dimse.Warning:
				recording.Add(1)
				go func(in *store.Instance) {
					defer recording.Done()
					d.stored(tr, in)
				}(in)
			default:
				d.outcome(tr, in, fmt.Sprintf("%04X", uint16(st)), fmt.Sprintf("%s refused the instance: %s", peer.AET, comment), false)
			}
			if c == nil {
				break
			}
		}
	}
}

// contexts proposes each SOP class in its instances' transfer syntaxes,
// and, for uncompressed little endian data, the other little endian
// syntax as well (the client transcodes when the destination takes only
// that one).
func contexts(pairs [][2]string) []ul.PresentationContext {
	sort.Slice(pairs, func(i, j int) bool { return pairs[i][0]+pairs[i][1] < pairs[j][0]+pairs[j][1] })
	seen := map[[2]string]bool{}
	var out []ul.PresentationContext
	add := func(class, ts string) {
		if p := [2]string{class, ts}; !seen[p] && len(out) < ul.MaxPresentationContexts {
			seen[p] = true
			out = append(out, ul.PresentationContext{AbstractSyntax: class, TransferSyntaxes: []string{ts}})
		}
	}
	for _, p := range pairs {
		add(p[0], p[1])
	}
	for _, p := range pairs {
		for _, alt := range []string{dicom.ExplicitVRLittleEndian, dicom.ImplicitVRLittleEndian} {
			if dicom.CanTranscode(p[1], alt) {
				add(p[0], alt)
			}
		}
	}
	return out
}

// storeOne sends the data set of a downloaded Part 10 file.
func storeOne(ctx context.Context, c *dimse.Client, in *store.Instance) (dimse.Status, string, error) {
	f, err := os.Open(in.Path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	meta, rest, err := dicom.ReadFileMeta(f)
	if err != nil {
		return 0, "", fmt.Errorf("read staged file: %w", err)
	}
	size := fi.Size() - meta.DataSetOffset
	rsp, err := c.Store(ctx, dimse.StoreRequest{SOPClassUID: in.SOPClassUID, SOPInstanceUID: in.SOPInstanceUID,
		TransferSyntax: in.TransferSyntax, Data: io.LimitReader(rest, size), Size: size})
	if err != nil {
		return 0, "", err
	}
	return rsp.Status, rsp.ErrorComment, nil
}

// stored records a success: the instance is delivered, and remembered as
// delivered to the destination with its SHA-256.
func (d *Deliverer) stored(tr *store.Transfer, in *store.Instance) {
	err := d.opts.Store.Commit(func(tx *store.Tx) error {
		cur, ci, err := d.current(tx, tr, in)
		if err != nil {
			return err
		}
		if prev := tx.Delivered(cur.Destination, ci.SOPInstanceUID); prev != "" && prev != ci.SHA256 {
			ci.NewVersion = true
			cur.NewVersions = append(cur.NewVersions, ci.SOPInstanceUID)
			d.opts.Logger.Warn("new version of an instance delivered", "step", "store", "study", cur.StudyUID,
				"instance", ci.SOPInstanceUID, "destination", cur.Destination)
		}
		ci.State, ci.Status, ci.Reason = store.IStored, "", ""
		cur.Stored++
		cur.Error = ""
		if err := tx.SetDelivered(cur.Destination, ci.SOPInstanceUID, ci.SHA256); err != nil {
			return err
		}
		if err := tx.PutInstance(cur, ci); err != nil {
			return err
		}
		return tx.PutTransfer(cur)
	})
	if err != nil && !errors.Is(err, errGone) {
		d.opts.Logger.Error("store result not recorded", "step", "store", "study", tr.StudyUID, "instance", in.SOPInstanceUID, "err", err)
	}
}

// outcome records a failed attempt: retried after a backoff, or, after
// deliver.attempts (or at once when final), reported failed.
func (d *Deliverer) outcome(tr *store.Transfer, in *store.Instance, status, reason string, final bool) {
	err := d.opts.Store.Update(func(tx *store.Tx) error {
		cur, ci, err := d.current(tx, tr, in)
		if err != nil {
			return err
		}
		ci.Attempts++
		ci.Status, ci.Reason, ci.Step = status, reason, "store"
		if final || ci.Attempts >= d.cfg.Deliver.Attempts {
			ci.State = store.IFailed
			cur.Failed++
			d.logFailure(cur, ci)
		} else {
			ci.NextTry = time.Now().Add(d.backoff(ci.Attempts))
			d.opts.Logger.Warn("C-STORE failed; will retry", "step", "store", "study", cur.StudyUID, "instance", ci.SOPInstanceUID,
				"destination", cur.Destination, "status", status, "reason", reason, "attempt", ci.Attempts)
		}
		cur.Error = "C-STORE to " + cur.Destination + ": " + reason
		if status != "" {
			cur.Error += " (status " + status + ")"
		}
		if err := tx.PutInstance(cur, ci); err != nil {
			return err
		}
		return tx.PutTransfer(cur)
	})
	if err != nil && !errors.Is(err, errGone) {
		d.opts.Logger.Error("store result not recorded", "step", "store", "study", tr.StudyUID, "instance", in.SOPInstanceUID, "err", err)
	}
}

// redownload sends an instance whose local copy vanished back to pending.
func (d *Deliverer) redownload(tr *store.Transfer, in *store.Instance) {
	d.opts.Store.Update(func(tx *store.Tx) error {
		cur, ci, err := d.current(tx, tr, in)
		if err != nil {
			return err
		}
		ci.State, ci.Path = store.IPending, ""
		cur.Downloaded--
		if err := tx.PutInstance(cur, ci); err != nil {
			return err
		}
		return tx.PutTransfer(cur)
	})
}

// current re-reads a transfer and an instance still in the state a worker
// saw.
func (d *Deliverer) current(tx *store.Tx, tr *store.Transfer, in *store.Instance) (*store.Transfer, *store.Instance, error) {
	cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
	if err != nil || cur.Round != tr.Round || cur.Gen != tr.Gen {
		return nil, nil, errGone
	}
	ci, err := tx.Instance(cur, in.SOPInstanceUID)
	if err != nil || ci.State != in.State || ci.SHA256 != in.SHA256 {
		return nil, nil, errGone
	}
	return cur, ci, nil
}
