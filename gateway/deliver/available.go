package deliver

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func address(a *pb.Address) string { return a.GetRelay() + "/" + a.GetClient() }

// HandleAvailable takes a study.available envelope: it records the
// manifest (a new round of the study from that sender, or a supplement
// answering a request) for the loop to deliver. Instances whose object key
// lies outside the sender's own prefix fail at once: a gateway delivers
// only what the announcing gateway uploaded.
func (d *Deliverer) HandleAvailable(ctx context.Context, env *pb.Envelope) error {
	from := address(env.GetFrom())
	m, err := d.readManifest(ctx, env)
	if err != nil {
		d.opts.Logger.Warn("study.available refused: bad manifest", "step", "announce", "from", from,
			"study", env.GetArgs()["study_uid"], "err", err)
		d.recordBad(env, from, err)
		return nil
	}
	dest := m.Destination
	if dest == "" {
		dest = d.cfg.Deliver.DefaultDestination
	}
	log := d.opts.Logger.With("step", "announce", "study", m.StudyUID, "peer", from)
	err = d.opts.Store.Update(func(tx *store.Tx) error {
		tr, err := tx.Transfer(store.Incoming, m.StudyUID, from)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if m.Supplement {
			if tr == nil || tr.Round != m.Round || tr.Terminal() {
				return errGone
			}
			return d.supplement(tx, tr, m)
		}
		if tr != nil && tr.Correlation == env.GetId() {
			return errGone // the same announce again
		}
		if tr != nil && (tr.Round > m.Round || tr.Round == m.Round && tr.Final && m.Partial) {
			return errGone // an older round, or a partial announce after the whole manifest
		}
		if tr == nil || tr.Round < m.Round || tr.Terminal() {
			gen := 0
			if tr != nil {
				gen = tr.Gen + 1
				if err := tx.ClearInstances(tr); err != nil {
					return err
				}
			}
			tr = &store.Transfer{StudyUID: m.StudyUID, Side: store.Incoming, Peer: from, State: store.Downloading, Round: m.Round, Gen: gen}
		}
		tr.Destination = dest
		if !m.Partial {
			tr.Final, tr.Correlation = true, env.GetId()
		}
		return d.merge(tx, tr, m, env.GetFrom())
	})
	switch {
	case errors.Is(err, errGone):
		log.Info("announce ignored: already taken or out of date", "round", m.Round, "supplement", m.Supplement)
		return nil
	case err != nil:
		return err
	}
	log.Info("study announced to us", "instances", len(m.Instances), "round", m.Round, "destination", dest,
		"partial", m.Partial, "supplement", m.Supplement, "unavailable", len(m.Unavailable))
	d.Kick()
	return nil
}

// merge adds the manifest's instances to the transfer: new ones and ones
// whose content changed start pending, the others keep their progress.
// The whole manifest (not partial) also drops instances it no longer
// lists. Instances whose object key lies outside the sender's prefix fail.
func (d *Deliverer) merge(tx *store.Tx, tr *store.Transfer, m *manifest.Manifest, from *pb.Address) error {
	rel, cl := from.GetRelay(), from.GetClient()
	listed := map[string]bool{}
	for _, mi := range m.Instances {
		listed[mi.SOPInstanceUID] = true
		if cur, err := tx.Instance(tr, mi.SOPInstanceUID); err == nil && cur.SHA256 == mi.SHA256 {
			continue
		}
		in := &store.Instance{SOPInstanceUID: mi.SOPInstanceUID, SOPClassUID: mi.SOPClassUID, SeriesUID: mi.SeriesUID,
			TransferSyntax: mi.TransferSyntax, Size: mi.Size, SHA256: mi.SHA256, Key: mi.Key, Holder: m.Store,
			Bucket: m.Bucket, State: store.IPending, Round: m.Round}
		if mi.Key != "" && !manifest.KeyOwnedBy(mi.Key, rel, cl) {
			in.State, in.Step = store.IFailed, "verify"
			in.Reason = "object key " + mi.Key + " is not under the announcing gateway's prefix " + rel + "/" + cl + "/studies/"
			d.logFailure(tr, in)
		}
		if err := tx.PutInstance(tr, in); err != nil {
			return err
		}
	}
	var drop []string
	tr.Instances, tr.Bytes, tr.Failed, tr.Stored, tr.AlreadyPresent, tr.Downloaded = 0, 0, 0, 0, 0, 0
	err := tx.Instances(tr, func(in *store.Instance) error {
		if tr.Final && !m.Partial && !listed[in.SOPInstanceUID] {
			drop = append(drop, in.SOPInstanceUID)
			return nil
		}
		tr.Instances++
		tr.Bytes += in.Size
		switch in.State {
		case store.IFailed:
			tr.Failed++
		case store.IStored:
			tr.Stored++
		case store.IAlreadyPresent:
			tr.AlreadyPresent++
		case store.IDownloaded:
			tr.Downloaded++
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sop := range drop {
		if err := tx.DeleteInstance(tr, sop); err != nil {
			return err
		}
	}
	return tx.PutTransfer(tr)
}

// supplement merges an answer to our request into the transfer.
func (d *Deliverer) supplement(tx *store.Tx, tr *store.Transfer, m *manifest.Manifest) error {
	for _, mi := range m.Instances {
		in, err := tx.Instance(tr, mi.SOPInstanceUID)
		if err != nil || in.State != store.IRequested || in.SHA256 != mi.SHA256 {
			continue
		}
		in.Key, in.Holder, in.Bucket, in.State = mi.Key, m.Store, m.Bucket, store.IPending
		if rel, cl := peerParts(tr.Peer); !manifest.KeyOwnedBy(mi.Key, rel, cl) {
			in.State, in.Step, in.Reason = store.IFailed, "verify", "object key "+mi.Key+" is not under the announcing gateway's prefix"
			tr.Failed++
		}
		if err := tx.PutInstance(tr, in); err != nil {
			return err
		}
	}
	for _, u := range m.Unavailable {
		in, err := tx.Instance(tr, u.SOPInstanceUID)
		if err != nil || in.State != store.IRequested {
			continue
		}
		in.State, in.Step, in.Reason = store.IFailed, "reconcile", "the sending gateway cannot provide it: "+u.Reason
		tr.Failed++
		d.logFailure(tr, in)
		if err := tx.PutInstance(tr, in); err != nil {
			return err
		}
	}
	return tx.PutTransfer(tr)
}

func peerParts(addr string) (string, string) {
	for i := 0; i < len(addr); i++ {
		if addr[i] == '/' {
			return addr[:i], addr[i+1:]
		}
	}
	return addr, ""
}

// readManifest takes the manifest from the body, or downloads the file
// the envelope carries.
func (d *Deliverer) readManifest(ctx context.Context, env *pb.Envelope) (*manifest.Manifest, error) {
	body := env.GetBody()
	if len(body) == 0 && len(env.GetFiles()) > 0 {
		path := filepath.Join(d.opts.Dir, "manifests", env.GetId()+".json")
		if err := d.opts.Relay.Download(ctx, env.GetFiles()[0], path); err != nil {
			return nil, err
		}
		defer os.Remove(path)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		body = b
	}
	return manifest.Decode(body)
}

// recordBad shows a refused announce in the studies list when it names a
// valid study.
func (d *Deliverer) recordBad(env *pb.Envelope, from string, cause error) {
	study := env.GetArgs()["study_uid"]
	if !manifest.ValidUID(study) {
		return
	}
	d.opts.Store.Update(func(tx *store.Tx) error {
		tr, err := tx.Transfer(store.Incoming, study, from)
		if err == nil && !tr.Terminal() {
			return nil // a transfer in progress is not replaced by a bad announce
		}
		tr = &store.Transfer{StudyUID: study, Side: store.Incoming, Peer: from, State: store.Failed,
			Error: "announce refused: " + cause.Error(), Cleaned: true, Correlation: env.GetId()}
		return tx.PutTransfer(tr)
	})
}
