// Package steploop is the loop that drives each of the gateway's
// pipelines (send, deliver): a step that moves every transfer as far as
// it can go now, run again when something kicks it or a tick passes.
//
// Kicks come with every received or downloaded instance, and a step reads
// whole transfers, so steps are spaced by MinStep to keep that cost linear
// in the size of a study.
package steploop

import (
	"context"
	"log/slog"
	"time"
)

const (
	// Tick is how often the loop steps without being kicked.
	Tick = 250 * time.Millisecond
	// MinStep is the least time between two steps.
	MinStep = 50 * time.Millisecond
)

// Loop runs a step function on kicks and ticks. The zero value is not
// usable: make one with New.
type Loop struct {
	kick chan struct{}
}

// New returns a Loop.
func New() *Loop { return &Loop{kick: make(chan struct{}, 1)} }

// Kick wakes the loop; kicks that come while a step runs are merged.
func (l *Loop) Kick() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Run calls step until ctx ends, logging its errors as what failed
// (e.g. "send pipeline").
func (l *Loop) Run(ctx context.Context, step func(context.Context) error, log *slog.Logger, what string) {
	t := time.NewTicker(Tick)
	defer t.Stop()
	for {
		if err := step(ctx); err != nil && ctx.Err() == nil {
			log.Error(what, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-t.C:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(MinStep):
		}
	}
}
