// Package send is the sending half of the gateway's pipeline: it decides
// when a received study is complete (stable_after, the association's
// release, or the end of a pull), uploads its instances to object storage
// while the study is still arriving (bounded parallelism), announces the
// study with one study.available envelope carrying its manifest, takes the
// receipt (study.received), answers requests for missing instances
// (study.request), and cleans up staged files and objects.
//
// Every state change is committed to the job database before it is acted
// on; after a crash the loop picks up every transfer where it stood. An
// announce repeated after a crash reuses its persisted envelope id, so the
// relays deliver it once.
package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/steploop"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// maxUploadBackoff caps the pause before an upload is tried again.
const maxUploadBackoff = 30 * time.Second

// Relay is what the sender needs from the relay connection.
type Relay interface {
	Self() (relay, id string)
	Send(ctx context.Context, m relayconn.Message) error
	Upload(ctx context.Context, path, key, mediaType string) (*pb.FileRef, error)
	Delete(ctx context.Context, key string) error
}

// Options configure a Sender.
type Options struct {
	Store       *store.Store
	Relay       Relay
	Logger      *slog.Logger
	StableAfter time.Duration
	Uploads     int           // uploads in flight (default 4)
	Retention   time.Duration // staged copies kept after the receipt
	// ManifestDir holds manifests too large for an envelope's body.
	ManifestDir string
}

// Sender runs the sending pipeline. Kick wakes it.
type Sender struct {
	opts Options
	loop *steploop.Loop
	sem  chan struct{}

	mu       sync.Mutex
	inflight map[string]bool      // transfer key + sop being uploaded (or its result not yet recorded)
	uploaded []uploadedObject     // results that the next step records, in one commit
	retryAt  map[string]time.Time // transfer key + sop → next upload attempt
	tries    map[string]int
	wg       sync.WaitGroup
}

// New returns a Sender.
func New(opts Options) *Sender {
	if opts.Uploads <= 0 {
		opts.Uploads = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{opts: opts, loop: steploop.New(), sem: make(chan struct{}, opts.Uploads),
		inflight: map[string]bool{}, retryAt: map[string]time.Time{}, tries: map[string]int{}}
}

// Kick wakes the loop.
func (s *Sender) Kick() { s.loop.Kick() }

// Run drives the pipeline until ctx ends, then waits for its uploads and
// records them.
func (s *Sender) Run(ctx context.Context) {
	defer s.recordUploads()
	defer s.wg.Wait()
	s.loop.Run(ctx, s.step, s.opts.Logger, "send pipeline")
}

// step moves every outgoing transfer as far as it can go now.
func (s *Sender) step(ctx context.Context) error {
	s.recordUploads()
	var trs []*store.Transfer
	err := s.opts.Store.View(func(tx *store.Tx) error {
		return tx.Transfers(func(tr *store.Transfer) error {
			if tr.Side == store.Outgoing && (!tr.Terminal() || !tr.Cleaned) {
				trs = append(trs, tr)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, tr := range trs {
		if ctx.Err() != nil {
			return nil
		}
		switch tr.State {
		case store.Receiving:
			if !tr.Pull && time.Since(tr.LastInstance) >= s.opts.StableAfter {
				s.setState(tr, store.Receiving, store.Complete, "no new instance for stable_after")
			}
			s.uploadPending(ctx, tr)
			if tr.State == store.Receiving {
				s.announcePartial(ctx, tr)
			}
		case store.Complete:
			s.setState(tr, store.Complete, store.Uploading, "")
			s.uploadPending(ctx, tr)
		case store.Uploading:
			if s.uploadPending(ctx, tr) {
				s.announce(ctx, tr)
			}
		case store.Acknowledged, store.Failed:
			if !tr.Cleaned && time.Since(tr.Finished) >= s.opts.Retention {
				s.cleanup(ctx, tr)
			}
		}
	}
	return nil
}

// setState moves a transfer from one state to another if it is still in
// the first.
func (s *Sender) setState(tr *store.Transfer, from, to, why string) {
	err := s.opts.Store.Update(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil || cur.State != from || cur.Round != tr.Round {
			return err
		}
		cur.State = to
		*tr = *cur
		return tx.PutTransfer(cur)
	})
	if err != nil {
		s.opts.Logger.Error("transfer state not saved", "study", tr.StudyUID, "step", to, "err", err)
		return
	}
	if to == store.Complete {
		s.opts.Logger.Info("study complete", "step", "complete", "study", tr.StudyUID, "peer", tr.Peer,
			"instances", tr.Instances, "bytes", tr.Bytes, "why", why)
	}
	s.Kick()
}

// uploadPending starts the uploads a transfer still needs and reports
// whether every instance is in storage (or known at the destination).
func (s *Sender) uploadPending(ctx context.Context, tr *store.Transfer) bool {
	var todo []*store.Instance
	var known []*store.Instance
	err := s.opts.Store.View(func(tx *store.Tx) error {
		return tx.Instances(tr, func(in *store.Instance) error {
			if in.State != store.IPending {
				return nil
			}
			if tx.Sent(tr.Peer, tr.Destination, in.SOPInstanceUID) == in.SHA256 {
				known = append(known, in)
			} else {
				todo = append(todo, in)
			}
			return nil
		})
	})
	if err != nil {
		s.opts.Logger.Error("read instances", "study", tr.StudyUID, "step", "upload", "err", err)
		return false
	}
	if len(known) > 0 {
		s.markKnown(tr, known)
	}
	for _, in := range todo {
		s.startUpload(ctx, tr, in)
	}
	return len(todo) == 0
}

// markKnown records instances the destination confirmed before with the
// same SHA-256: they are not uploaded again.
func (s *Sender) markKnown(tr *store.Transfer, ins []*store.Instance) {
	err := s.opts.Store.Update(func(tx *store.Tx) error {
		for _, in := range ins {
			cur, err := tx.Instance(tr, in.SOPInstanceUID)
			if err != nil || cur.SHA256 != in.SHA256 || cur.State != store.IPending {
				continue
			}
			cur.State, cur.Key = store.IKnown, ""
			if err := tx.PutInstance(tr, cur); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.opts.Logger.Error("mark known instances", "study", tr.StudyUID, "step", "upload", "err", err)
	}
}

func (s *Sender) startUpload(ctx context.Context, tr *store.Transfer, in *store.Instance) {
	id := string(tr.Key()) + "\x00" + in.SOPInstanceUID
	s.mu.Lock()
	if s.inflight[id] || time.Now().Before(s.retryAt[id]) {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	select {
	case s.sem <- struct{}{}:
	default:
		return // all slots busy: the next step starts it
	}
	s.mu.Lock()
	s.inflight[id] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.upload(ctx, tr, in, id)
		<-s.sem
		s.mu.Lock()
		if err != nil {
			delete(s.inflight, id)
			s.tries[id]++
			s.retryAt[id] = time.Now().Add(min(time.Duration(1<<min(s.tries[id], 6))*250*time.Millisecond, maxUploadBackoff))
		} else {
			delete(s.tries, id)
			delete(s.retryAt, id)
		}
		s.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			s.opts.Logger.Warn("upload failed; will retry", "step", "upload", "study", tr.StudyUID, "instance", in.SOPInstanceUID, "err", err)
		}
		s.Kick()
	}()
}

// uploadedObject is an upload done whose result is not recorded yet.
type uploadedObject struct {
	id  string // the inflight entry, kept until recorded
	tr  *store.Transfer
	in  *store.Instance
	key string
	ref *pb.FileRef
}

// upload puts one staged instance in storage. Its result is recorded by
// the next step, together with the others done meanwhile: one commit for
// many uploads instead of one each, which the receiving side's commits
// would otherwise queue behind. Until then the instance stays in flight;
// a result lost in a crash costs one more upload of the same object.
func (s *Sender) upload(ctx context.Context, tr *store.Transfer, in *store.Instance, id string) error {
	rel, self := s.opts.Relay.Self()
	if rel == "" {
		return relayconn.ErrNotConnected
	}
	key := manifest.ObjectKey(rel, self, tr.StudyUID, in.SOPInstanceUID, in.SHA256)
	ref, err := s.opts.Relay.Upload(ctx, in.Path, key, "application/dicom")
	if err != nil {
		return err
	}
	if ref.GetSha256() != in.SHA256 {
		return fmt.Errorf("staged file changed: SHA-256 %s, recorded %s", ref.GetSha256(), in.SHA256)
	}
	s.mu.Lock()
	s.uploaded = append(s.uploaded, uploadedObject{id: id, tr: tr, in: in, key: key, ref: ref})
	s.mu.Unlock()
	return nil
}

// recordUploads marks the finished uploads in one commit.
func (s *Sender) recordUploads() {
	s.mu.Lock()
	done := s.uploaded
	s.uploaded = nil
	s.mu.Unlock()
	if len(done) == 0 {
		return
	}
	err := s.opts.Store.Commit(func(tx *store.Tx) error {
		for _, u := range done {
			cur, err := tx.Transfer(u.tr.Side, u.tr.StudyUID, u.tr.Peer)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			ci, err := tx.Instance(cur, u.in.SOPInstanceUID)
			if err != nil || ci.SHA256 != u.in.SHA256 || ci.State != store.IPending {
				continue // replaced meanwhile: the new one is uploaded on its own
			}
			ci.State, ci.Key, ci.Holder, ci.Bucket = store.IUploaded, u.key, u.ref.GetStore(), u.ref.GetBucket()
			cur.Uploaded++
			if err := tx.PutInstance(cur, ci); err != nil {
				return err
			}
			if err := tx.PutTransfer(cur); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.opts.Logger.Error("uploads not recorded; they will be uploaded again", "step", "upload", "instances", len(done), "err", err)
	}
	s.mu.Lock()
	for _, u := range done {
		delete(s.inflight, u.id)
	}
	s.mu.Unlock()
}

// errNotReady means the transfer changed under the announce.
var errNotReady = errors.New("transfer changed")
