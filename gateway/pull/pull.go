// Package pull runs send-study jobs: the gateway asks a peer (a PACS) how
// many instances a study has (C-FIND, image level), C-MOVEs the study to
// its own AE title, and once the move has ended and the counts agree marks
// the outgoing transfer complete, so the usual pipeline sends it.
//
// Jobs are records in the job database; one interrupted by a crash is
// started again (instances that arrive twice are the same instance).
package pull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
	"github.com/medrelay/medrelay/gateway/config"
	"github.com/medrelay/medrelay/gateway/store"
)

// Job states.
const (
	Pending = "pending"
	Done    = "done"
	Failed  = "failed"
)

// maxAttempts of a pull before it is reported failed.
const maxAttempts = 3

// Options configure a Puller.
type Options struct {
	Store  *store.Store
	Config *config.Config
	Logger *slog.Logger
	// OnComplete is called when a pulled study is complete (wakes the sender).
	OnComplete func()
}

// Puller runs pull jobs one at a time.
type Puller struct {
	opts Options
	kick chan struct{}

	mu     sync.Mutex
	active map[string]*store.Pull // study → job being moved
}

// New returns a Puller.
func New(opts Options) *Puller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Puller{opts: opts, kick: make(chan struct{}, 1), active: map[string]*store.Pull{}}
}

// Start records a pull job and wakes the loop. A study already being
// pulled is refused.
func (p *Puller) Start(job store.Pull) error {
	if _, ok := p.opts.Config.Peer(job.From); !ok {
		return fmt.Errorf("from: %q is not in this gateway's peers", job.From)
	}
	err := p.opts.Store.Update(func(tx *store.Tx) error {
		if cur, err := tx.Pull(job.StudyUID); err == nil && cur.State == Pending {
			return fmt.Errorf("study %s is already being pulled from %s", job.StudyUID, cur.From)
		}
		job.State, job.Created, job.Attempts = Pending, time.Now().UTC(), 0
		return tx.PutPull(&job)
	})
	if err != nil {
		return err
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return nil
}

// Active returns the job pulling a study, so the receiver routes its
// instances to the job's target.
func (p *Puller) Active(study string) (store.Pull, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, ok := p.active[study]
	if !ok {
		return store.Pull{}, false
	}
	return *j, true
}

// Run runs pending jobs until ctx ends.
func (p *Puller) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		var jobs []*store.Pull
		p.opts.Store.View(func(tx *store.Tx) error {
			return tx.Pulls(func(j *store.Pull) error {
				if j.State == Pending && !time.Now().Before(j.NextTry) {
					jobs = append(jobs, j)
				}
				return nil
			})
		})
		for _, j := range jobs {
			if ctx.Err() != nil {
				return
			}
			p.run(ctx, j)
		}
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-t.C:
		}
	}
}

func (p *Puller) run(ctx context.Context, j *store.Pull) {
	log := p.opts.Logger.With("step", "pull", "study", j.StudyUID, "from", j.From, "to", j.To)
	p.mu.Lock()
	p.active[j.StudyUID] = j
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.active, j.StudyUID)
		p.mu.Unlock()
	}()
	err := p.pull(ctx, j, log)
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		err = p.complete(j)
	}
	j.Attempts++
	switch {
	case err == nil:
		j.State, j.Error = Done, ""
		log.Info("study pulled", "instances", j.Expected)
		if p.opts.OnComplete != nil {
			p.opts.OnComplete()
		}
	case j.Attempts >= maxAttempts:
		j.State, j.Error = Failed, err.Error()
		log.Warn("pull failed", "attempts", j.Attempts, "err", err)
		p.failTransfer(j)
	default:
		j.Error = err.Error()
		j.NextTry = time.Now().Add(time.Duration(2<<j.Attempts) * time.Second)
		log.Warn("pull failed; will retry", "attempts", j.Attempts, "err", err)
	}
	p.opts.Store.Update(func(tx *store.Tx) error { return tx.PutPull(j) })
}

// pull counts the study's instances at the peer and moves it to us.
func (p *Puller) pull(ctx context.Context, j *store.Pull, log *slog.Logger) error {
	peer, ok := p.opts.Config.Peer(j.From)
	if !ok {
		return fmt.Errorf("from: %q is not in this gateway's peers", j.From)
	}
	ctxs := []ul.PresentationContext{
		{AbstractSyntax: dimse.StudyRootFind, TransferSyntaxes: []string{dimse.ExplicitVRLittle, dimse.ImplicitVRLittle}},
		{AbstractSyntax: dimse.StudyRootMove, TransferSyntaxes: []string{dimse.ExplicitVRLittle, dimse.ImplicitVRLittle}},
	}
	c, err := dimse.Dial(ctx, peer.Addr(), ul.Request{CallingAE: p.opts.Config.OwnAET(), CalledAE: peer.AET, Contexts: ctxs}, nil)
	if err != nil {
		return fmt.Errorf("C-FIND at %s: %w", peer.AET, err)
	}
	defer c.Close()
	n, err := count(ctx, c, j.StudyUID)
	if err != nil {
		return fmt.Errorf("C-FIND at %s: %w", peer.AET, err)
	}
	if n == 0 {
		return fmt.Errorf("C-FIND at %s found no instance of the study", peer.AET)
	}
	j.Expected = n
	p.opts.Store.Update(func(tx *store.Tx) error { return tx.PutPull(j) })
	log.Info("moving study", "expected", n)
	id, err := identifier(c, dimse.StudyRootMove, "STUDY", j.StudyUID, false)
	if err != nil {
		return err
	}
	res, err := c.Move(ctx, dimse.Query{SOPClassUID: dimse.StudyRootMove, Identifier: id, Destination: p.opts.Config.OwnAET()}, nil)
	if err != nil {
		return fmt.Errorf("C-MOVE from %s: %w", peer.AET, err)
	}
	if !res.OK() {
		return fmt.Errorf("C-MOVE from %s: status %v %s (completed %d, failed %d)", peer.AET, res.Status, res.Comment,
			res.Counters.Completed, res.Counters.Failed)
	}
	return nil
}

// complete checks that every instance arrived and hands the transfer to
// the sender.
func (p *Puller) complete(j *store.Pull) error {
	return p.opts.Store.Update(func(tx *store.Tx) error {
		tr, err := tx.Transfer(store.Outgoing, j.StudyUID, j.To)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("C-MOVE ended but no instance of the study arrived (expected %d)", j.Expected)
		}
		if err != nil {
			return err
		}
		if tr.Instances < j.Expected {
			return fmt.Errorf("C-MOVE ended with %d of %d instances received", tr.Instances, j.Expected)
		}
		tr.Pull = false
		if tr.State == store.Receiving {
			tr.State = store.Complete
		}
		if j.Requester != "" && !contains(tr.Requesters, j.Requester) {
			tr.Requesters = append(tr.Requesters, j.Requester)
		}
		return tx.PutTransfer(tr)
	})
}

// failTransfer marks the study's outgoing transfer failed, with the
// reason: a study whose pull did not bring every instance is not sent
// (its staged instances are cleaned up; send-study again to retry).
func (p *Puller) failTransfer(j *store.Pull) {
	p.opts.Store.Update(func(tx *store.Tx) error {
		tr, err := tx.Transfer(store.Outgoing, j.StudyUID, j.To)
		if err != nil {
			tr = &store.Transfer{StudyUID: j.StudyUID, Side: store.Outgoing, Peer: j.To, Destination: j.Destination, Round: 1, Cleaned: true}
		}
		if tr.State == store.Receiving || tr.State == store.Complete {
			tr.State, tr.Finished = store.Failed, time.Now().UTC()
		}
		tr.Pull = false
		tr.Error = "pull from " + j.From + ": " + j.Error
		return tx.PutTransfer(tr)
	})
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// count asks for the study's instances at image level.
func count(ctx context.Context, c *dimse.Client, study string) (int, error) {
	id, err := identifier(c, dimse.StudyRootFind, "IMAGE", study, true)
	if err != nil {
		return 0, err
	}
	n := 0
	err = c.Find(ctx, dimse.Query{SOPClassUID: dimse.StudyRootFind, Identifier: id}, func([]byte) error {
		n++
		return nil
	})
	return n, err
}

func identifier(c *dimse.Client, sop, level, study string, withSOP bool) ([]byte, error) {
	ds := dicom.NewDataSet(
		dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x0052}, dicom.CS, level),
		dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, study))
	if withSOP {
		ds.Set(dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI))
		ds.Set(dicom.NewString(dicom.SeriesInstanceUIDTag, dicom.UI))
	}
	ts, ok := c.TransferSyntax(sop)
	if !ok {
		return nil, fmt.Errorf("the peer accepted no context for %s", dicom.UIDName(sop))
	}
	return dicom.Encode(ds, ts)
}
