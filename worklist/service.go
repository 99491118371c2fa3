package worklist

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultRetention bounds how long undelivered events and finished
// workitems are kept (worklist.retention).
const DefaultRetention = 168 * time.Hour

// batchDelay is how long a commit waits for concurrent changes to join it.
const batchDelay = 2 * time.Millisecond

// Options configure a Service.
type Options struct {
	// Path of the bbolt file (the gateway uses DATA_DIR/worklist.db).
	Path string
	// Retention of undelivered events and of final workitems (default
	// DefaultRetention).
	Retention time.Duration
	// Logger (default: discard).
	Logger *slog.Logger
}

// Service is the worklist: workitems, subscriptions and queued events.
type Service struct {
	db  *bolt.DB
	o   Options
	log *slog.Logger

	ctx    context.Context // ends the notification channels on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	wake   map[string]chan struct{}
	conns  map[string]*conn // live notification channel per AE

	relayWake chan struct{} // events for relay subscribers were queued
}

// Open opens (or creates) the worklist file.
func Open(o Options) (*Service, error) {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := bolt.Open(o.Path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open worklist %s: %w", o.Path, err)
	}
	db.MaxBatchDelay = batchDelay
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bWorkitems, bGlobals, bWsubs, bEvents, bInbox, bCounters, bDropped} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init worklist %s: %w", o.Path, err)
	}
	s := &Service{db: db, o: o, log: o.Logger, wake: map[string]chan struct{}{}, conns: map[string]*conn{},
		relayWake: make(chan struct{}, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Run sweeps expired events and workitems every minute until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if err := s.Sweep(time.Now()); err != nil {
			s.log.Warn("worklist sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close ends the notification channels, waits for them and closes the
// file.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return s.db.Close()
}

// update runs f in a durable write transaction and wakes the subscribers
// it queued events for once it has committed. Concurrent updates share
// one commit (bbolt's Batch): f may run more than once, and only its last
// run counts; a refusal from one caller never fails another.
func (s *Service) update(f func(t *txn) error) error {
	var woken map[string]bool
	err := s.db.Batch(func(tx *bolt.Tx) error {
		t := &txn{Tx: tx, now: time.Now().UTC(), woken: map[string]bool{}}
		woken = t.woken
		return f(t)
	})
	if err != nil {
		return err
	}
	for ae := range woken {
		s.signal(ae)
	}
	return nil
}

func (s *Service) view(f func(t *txn) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return f(&txn{Tx: tx}) })
}

func (s *Service) wakeChan(ae string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.wake[ae]
	if !ok {
		c = make(chan struct{}, 1)
		s.wake[ae] = c
	}
	return c
}

func (s *Service) signal(ae string) {
	if strings.HasPrefix(ae, relayPrefix) {
		s.relayWanted()
		return
	}
	select {
	case s.wakeChan(ae) <- struct{}{}:
	default:
	}
}
