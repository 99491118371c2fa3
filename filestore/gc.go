package filestore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// GCStore is what GC needs from a store.
type GCStore interface {
	List(ctx context.Context, prefix string, fn func(Info) error) error
	Delete(ctx context.Context, key string) error
}

// GCOptions controls GC.
type GCOptions struct {
	// InUse reports whether an envelope is still queued somewhere on this
	// relay. Required: GC refuses to run without it. Objects whose
	// envelope is in use are never removed.
	InUse func(envelopeID string) bool
	// OlderThan also removes objects last modified more than OlderThan
	// ago, whatever their expiry. Zero removes only objects whose own
	// expiry has passed.
	OlderThan time.Duration
	// Prefix limits GC to keys starting with it. Default: every key.
	Prefix string
	// DryRun counts what would be removed without removing it.
	DryRun bool
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// GCResult counts what GC saw and did.
type GCResult struct {
	Scanned      int   // objects listed
	Removed      int   // objects removed (or that would be, on a dry run)
	RemovedBytes int64 // their total size
	Kept         int   // expired objects kept because their envelope is in use
}

// GC removes expired objects from s: those whose expiry has passed, and
// with OlderThan set those older than it, unless InUse says their
// envelope is still queued.
func GC(ctx context.Context, s GCStore, opts GCOptions) (GCResult, error) {
	var res GCResult
	if opts.InUse == nil {
		return res, errors.New("gc: GCOptions.InUse is required")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	t := now()
	var expired []Info
	err := s.List(ctx, opts.Prefix, func(in Info) error {
		res.Scanned++
		if !isExpired(in, t, opts.OlderThan) {
			return nil
		}
		if in.EnvelopeID != "" && opts.InUse(in.EnvelopeID) {
			res.Kept++
			return nil
		}
		expired = append(expired, in)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("gc: list: %w", err)
	}
	for _, in := range expired {
		if !opts.DryRun {
			if err := s.Delete(ctx, in.Key); err != nil {
				return res, fmt.Errorf("gc: delete %q: %w", in.Key, err)
			}
		}
		res.Removed++
		res.RemovedBytes += in.Size
	}
	return res, nil
}

func isExpired(in Info, now time.Time, olderThan time.Duration) bool {
	if !in.Expires.IsZero() && now.After(in.Expires) {
		return true
	}
	return olderThan > 0 && now.Sub(in.Modified) > olderThan
}
