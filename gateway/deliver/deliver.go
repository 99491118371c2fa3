// Package deliver is the receiving half of the gateway's pipeline: it
// takes a study.available envelope, downloads the instances its manifest
// names (bounded parallelism, resumable, every SHA-256 verified), C-STOREs
// them to the destination as they arrive (one association per study at a
// time, a status per instance, refused instances retried with capped
// backoff and then reported with their DICOM status), asks the sender
// again for instances that are missing (reconciliation, only those), and
// answers with a study.received receipt once every instance is stored,
// already present, or failed.
//
// An instance whose SOP instance UID and SHA-256 were already delivered to
// the destination is not downloaded nor sent again (already present); the
// same UID with other content is delivered as a new version and flagged.
package deliver

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/medrelay/medrelay/gateway/config"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/steploop"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Relay is what delivery needs from the relay connection.
type Relay interface {
	Send(ctx context.Context, m relayconn.Message) error
	Download(ctx context.Context, ref *pb.FileRef, path string) error
}

// Options configure a Deliverer.
type Options struct {
	Store  *store.Store
	Relay  Relay
	Config *config.Config // peers, deliver.*, retention, our AE title
	Dir    string         // downloaded instances (data_dir/incoming)
	Logger *slog.Logger
}

// Deliverer runs the receiving pipeline. Kick wakes it.
type Deliverer struct {
	opts Options
	cfg  *config.Config
	loop *steploop.Loop
	sem  chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	inflight map[string]bool      // transfer key + sop being downloaded
	retryAt  map[string]time.Time // transfer key + sop → next download attempt
	storing  map[string]bool      // transfer keys with a storer running
}

// New returns a Deliverer.
func New(opts Options) *Deliverer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{opts: opts, cfg: opts.Config, loop: steploop.New(),
		sem:      make(chan struct{}, max(opts.Config.Deliver.Downloads, 1)),
		inflight: map[string]bool{}, retryAt: map[string]time.Time{}, storing: map[string]bool{}}
}

// Kick wakes the loop.
func (d *Deliverer) Kick() { d.loop.Kick() }

// Run drives the pipeline until ctx ends, then waits for its workers.
func (d *Deliverer) Run(ctx context.Context) {
	defer d.wg.Wait()
	d.loop.Run(ctx, d.step, d.opts.Logger, "delivery pipeline")
}

// backoff is the pause after the n-th failed attempt: 1s doubling,
// capped by deliver.max_backoff.
func (d *Deliverer) backoff(n int) time.Duration {
	b := time.Second << min(max(n-1, 0), 10)
	return min(b, d.cfg.Deliver.MaxBackoff)
}

func (d *Deliverer) step(ctx context.Context) error {
	var trs []*store.Transfer
	err := d.opts.Store.View(func(tx *store.Tx) error {
		return tx.Transfers(func(tr *store.Transfer) error {
			if tr.Side == store.Incoming && (!tr.Terminal() || !tr.Cleaned) {
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
		if tr.Terminal() {
			if time.Since(tr.Finished) >= d.cfg.Retention {
				d.cleanup(tr)
			}
			continue
		}
		d.advance(ctx, tr)
	}
	return nil
}

// advance moves one incoming transfer: instances already delivered are
// settled, missing ones asked for, downloads and the storer started, and
// the receipt sent once every instance is settled.
func (d *Deliverer) advance(ctx context.Context, tr *store.Transfer) {
	var pending, ask, ready []*store.Instance
	open := 0
	err := d.opts.Store.ViewOrUpdate(func(tx *store.Tx) error {
		cur, err := tx.Transfer(tr.Side, tr.StudyUID, tr.Peer)
		if err != nil {
			return err
		}
		*tr = *cur
		pending, ask, ready, open = nil, nil, nil, 0
		changed := false
		err = tx.Instances(cur, func(in *store.Instance) error {
			switch in.State {
			case store.IPending:
				if sha := tx.Delivered(cur.Destination, in.SOPInstanceUID); sha == in.SHA256 {
					in.State = store.IAlreadyPresent
					cur.AlreadyPresent++
					changed = true
					return tx.PutInstance(cur, in)
				}
				open++
				if in.Key == "" {
					ask = append(ask, in)
				} else {
					pending = append(pending, in)
				}
			case store.IRequested:
				open++
				if time.Since(cur.RequestedAt) > d.cfg.Deliver.RequestTimeout {
					in.State, in.Step = store.IFailed, "reconcile"
					in.Reason = "asked the sending gateway again; it did not provide the instance within deliver.request_timeout"
					cur.Failed++
					changed = true
					d.logFailure(cur, in)
					return tx.PutInstance(cur, in)
				}
			case store.IDownloaded:
				open++
				ready = append(ready, in)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if cur.Final && open > 0 && len(pending) == 0 && len(ask) == 0 && cur.State == store.Downloading {
			cur.State, changed = store.Storing, true
		}
		if changed {
			*tr = *cur
			return tx.PutTransfer(cur)
		}
		return nil
	})
	if err != nil {
		d.opts.Logger.Error("read transfer", "step", "deliver", "study", tr.StudyUID, "err", err)
		return
	}
	if len(ask) > 0 {
		d.request(ctx, tr, ask)
	}
	for _, in := range pending {
		d.startDownload(ctx, tr, in)
	}
	if len(ready) > 0 {
		d.startStorer(ctx, tr)
	}
	if open == 0 && tr.Final {
		d.finish(ctx, tr)
	}
}

func (d *Deliverer) logFailure(tr *store.Transfer, in *store.Instance) {
	d.opts.Logger.Warn("instance failed", "step", in.Step, "study", tr.StudyUID, "instance", in.SOPInstanceUID,
		"destination", tr.Destination, "status", in.Status, "reason", in.Reason, "attempts", in.Attempts)
}

// errGone means the transfer changed (a new round) under a worker.
var errGone = errors.New("transfer changed")
