package send

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// announce sends study.available for a transfer whose instances are all
// in storage or known, then marks it announced. The envelope id is
// persisted first, so a repeat after a crash is the same envelope.
func (s *Sender) announce(ctx context.Context, tr *store.Transfer) {
	log := s.opts.Logger.With("step", "announce", "study", tr.StudyUID, "peer", tr.Peer)
	var m manifest.Manifest
	var id string
	err := s.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil {
			return err
		}
		if cur.State != store.Uploading || cur.Round != tr.Round {
			return errNotReady
		}
		m = manifest.Manifest{StudyUID: cur.StudyUID, Round: cur.Round, Destination: cur.Destination, Series: map[string]int{}}
		err = tx.Instances(cur, func(in *store.Instance) error {
			if in.State == store.IPending {
				return errNotReady
			}
			e := manifest.Instance{SOPClassUID: in.SOPClassUID, SOPInstanceUID: in.SOPInstanceUID, SeriesUID: in.SeriesUID,
				TransferSyntax: in.TransferSyntax, Size: in.Size, SHA256: in.SHA256}
			if in.State == store.IUploaded {
				e.Key = in.Key
				if in.Holder != "" {
					m.Store, m.Bucket = in.Holder, in.Bucket
				}
			}
			m.Instances = append(m.Instances, e)
			m.Series[in.SeriesUID]++
			return nil
		})
		if err != nil {
			return err
		}
		if cur.AnnounceID == "" {
			cur.AnnounceID = relayconn.NewID()
			if err := tx.PutTransfer(cur); err != nil {
				return err
			}
		}
		id = cur.AnnounceID
		*tr = *cur
		return nil
	})
	if errors.Is(err, errNotReady) {
		return
	}
	if err != nil {
		log.Error("announce: read transfer", "err", err)
		return
	}
	msg, err := s.availableMessage(ctx, tr, id, &m)
	if err == nil {
		err = s.opts.Relay.Send(ctx, msg)
	}
	if err != nil {
		s.noteError(tr, "announce: "+err.Error())
		log.Warn("announce failed; will retry", "err", err)
		return
	}
	s.setState(tr, store.Uploading, store.Announced, "")
	log.Info("study announced", "instances", len(m.Instances), "uploaded", tr.Uploaded, "bytes", tr.Bytes, "envelope", id)
}

// availableMessage builds study.available: the manifest in the body while
// it is small, else uploaded as a file beside the envelope.
func (s *Sender) availableMessage(ctx context.Context, tr *store.Transfer, id string, m *manifest.Manifest) (relayconn.Message, error) {
	rel, self := s.opts.Relay.Self()
	body, err := json.Marshal(m)
	if err != nil {
		return relayconn.Message{}, err
	}
	msg := relayconn.Message{ID: id, To: tr.Peer, Command: manifest.Available, Args: map[string]string{
		"study_uid": m.StudyUID, "round": strconv.Itoa(m.Round), "instances": strconv.Itoa(len(m.Instances)),
		"destination": m.Destination}}
	if m.Supplement {
		msg.Args["supplement"] = "true"
	}
	if len(body) <= manifest.InlineLimit {
		msg.Body = body
		return msg, nil
	}
	path := filepath.Join(s.opts.ManifestDir, fmt.Sprintf("%s.%d.%s.json", m.StudyUID, m.Round, id))
	if err := os.MkdirAll(s.opts.ManifestDir, 0o750); err != nil {
		return msg, err
	}
	if err := os.WriteFile(path, body, 0o640); err != nil {
		return msg, err
	}
	key := fmt.Sprintf("%s/%s/studies/%s/manifest.%d.%s.json", rel, self, m.StudyUID, m.Round, id)
	ref, err := s.opts.Relay.Upload(ctx, path, key, manifest.MediaType)
	if err != nil {
		return msg, fmt.Errorf("upload manifest: %w", err)
	}
	msg.Files = []*pb.FileRef{ref}
	msg.Args["manifest"] = "file"
	return msg, nil
}

func (s *Sender) noteError(tr *store.Transfer, msg string) {
	s.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil {
			return err
		}
		cur.Error = msg
		return tx.PutTransfer(cur)
	})
}

// cleanup removes the staged files and storage objects of a finished
// transfer.
func (s *Sender) cleanup(ctx context.Context, tr *store.Transfer) {
	var ins []*store.Instance
	s.opts.Store.View(func(tx *store.Tx) error {
		return tx.Instances(tr, func(in *store.Instance) error {
			ins = append(ins, in)
			return nil
		})
	})
	removed := 0
	for _, in := range ins {
		if in.Key != "" {
			if err := s.opts.Relay.Delete(ctx, in.Key); err != nil {
				s.opts.Logger.Debug("object not removed; the relay's gc will", "step", "cleanup", "study", tr.StudyUID, "instance", in.SOPInstanceUID, "err", err)
			}
		}
		if in.Path != "" {
			if err := os.Remove(in.Path); err == nil {
				removed++
			}
		}
	}
	err := s.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil || cur.Round != tr.Round || !cur.Terminal() {
			return err
		}
		for _, in := range ins {
			ci, err := tx.Instance(cur, in.SOPInstanceUID)
			if err != nil || ci.Path != in.Path {
				continue
			}
			ci.Path, ci.Key = "", ""
			if ci.State == store.IUploaded {
				ci.State = store.IKnown
			}
			if err := tx.PutInstance(cur, ci); err != nil {
				return err
			}
		}
		cur.Cleaned = true
		return tx.PutTransfer(cur)
	})
	if err != nil {
		s.opts.Logger.Error("cleanup not saved", "step", "cleanup", "study", tr.StudyUID, "err", err)
		return
	}
	s.opts.Logger.Info("staged copies removed", "step", "cleanup", "study", tr.StudyUID, "files", removed, "age", time.Since(tr.Finished).Round(time.Second).String())
}

// A partial announce waits, while the study still arrives, for
// partialBatch instances in storage (or known at the destination) or for
// partialBytes of them, whichever comes first: many small instances or a
// few large ones.
const (
	partialBatch = 20
	partialBytes = 64 << 20
)

// announcePartial tells the receiving gateway about the instances in
// storage that no announce has named yet, while the study still arrives,
// so that it downloads and delivers them meanwhile. A partial announce
// lost in a crash is harmless: the final one lists the whole study.
func (s *Sender) announcePartial(ctx context.Context, tr *store.Transfer) {
	m := manifest.Manifest{StudyUID: tr.StudyUID, Round: tr.Round, Destination: tr.Destination, Series: map[string]int{}, Partial: true}
	err := s.opts.Store.View(func(tx *store.Tx) error {
		return tx.Instances(tr, func(in *store.Instance) error {
			if in.Told == tr.Round || (in.State != store.IUploaded && in.State != store.IKnown) || in.Round != tr.Round {
				return nil
			}
			e := manifest.Instance{SOPClassUID: in.SOPClassUID, SOPInstanceUID: in.SOPInstanceUID, SeriesUID: in.SeriesUID,
				TransferSyntax: in.TransferSyntax, Size: in.Size, SHA256: in.SHA256}
			if in.State == store.IUploaded {
				e.Key = in.Key
				if in.Holder != "" {
					m.Store, m.Bucket = in.Holder, in.Bucket
				}
			}
			m.Instances = append(m.Instances, e)
			m.Series[in.SeriesUID]++
			return nil
		})
	})
	var bytes int64
	for _, e := range m.Instances {
		bytes += e.Size
	}
	if err != nil || len(m.Instances) == 0 || len(m.Instances) < partialBatch && bytes < partialBytes {
		return
	}
	msg, err := s.availableMessage(ctx, tr, relayconn.NewID(), &m)
	if err == nil {
		msg.Args["partial"] = "true"
		err = s.opts.Relay.Send(ctx, msg)
	}
	if err != nil {
		s.opts.Logger.Warn("partial announce not sent; the final one will list the study", "step", "announce", "study", tr.StudyUID, "err", err)
		return
	}
	err = s.opts.Store.Commit(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil || cur.Round != tr.Round {
			return err
		}
		for _, e := range m.Instances {
			ci, err := tx.Instance(cur, e.SOPInstanceUID)
			if err != nil || ci.SHA256 != e.SHA256 {
				continue
			}
			ci.Told = cur.Round
			if err := tx.PutInstance(cur, ci); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.opts.Logger.Error("partial announce not recorded", "step", "announce", "study", tr.StudyUID, "err", err)
	}
}
