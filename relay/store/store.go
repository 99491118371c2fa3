// Package store keeps a relay's queues, dedupe records, routing table, dead
// letters and audit log in one bbolt file.
//
// Every change goes through Submit, and one writer goroutine drains all
// pending submissions into a single transaction: one fsync serves every
// envelope that arrived while the previous commit ran, and an idle relay
// commits at once, with no timer. A submission's done channel reports only
// after its transaction is on disk, which is when a relay may acknowledge.
//
// The store does not route and does not talk to the network.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the bbolt file inside a relay's data_dir.
const FileName = "relay.db"

var (
	bucketQueues = []byte("queues")
	bucketSeen   = []byte("seen")    // dedupe key -> receipt time (ms)
	bucketSeenAt = []byte("seen-at") // receipt time (ms) + dedupe key, for pruning
	bucketExpiry = []byte("expiry")  // expires_at + seq + queue: see expiry.go
	bucketRoutes = []byte("routes")
	bucketDead   = []byte("dead")
	bucketAudit  = []byte("audit")
	bucketMeta   = []byte("meta")

	keyAuditHead = []byte("audit-head")      // hash of the last audit record
	keyAuditLast = []byte("audit-last")      // time key of the last audit record
	keyJournal   = []byte("journal-applied") // last intake journal record applied
	keySeenAt    = []byte("seen-at-indexed") // seen ids are indexed by receipt time
	keyExpiry    = []byte("expiry-indexed")  // queued entries are indexed by expiry
	keyProbe     = []byte("probe")           // written by Probe
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("store closed")

// Options configure a Store. The zero value is usable.
type Options struct {
	// DedupeTTL is how long envelope ids are remembered after they were
	// received (default 168h). It must be at least the longest envelope
	// TTL plus the clock skew a relay allows.
	DedupeTTL time.Duration
	// Now is the store's clock (default time.Now): the receipt time of
	// dedupe records. Tests move it to age records without sleeping.
	Now func() time.Time
	// GroupDelay is the longest a busy writer waits for a group to fill
	// (default 500µs; negative: never wait). See gather.
	GroupDelay time.Duration
	// ForwardInterval is the shortest time between the starts of two
	// commits that store only forwarded traffic (default 4ms; negative:
	// none). See SubmitForwarded.
	ForwardInterval time.Duration
	// Fault, when set, is called in every commit before it is written; an
	// error it returns fails the commit the way a write error (a full
	// disk) does. Only tests set it, to make the store fail on purpose.
	Fault func() error
	// MaxPending bounds submissions waiting for the writer (default 4096);
	// Submit blocks beyond it, which slows readers down instead of growing
	// memory.
	MaxPending int
}

// Store is a relay's durable state. Its methods are safe for concurrent use.
type Store struct {
	db    *bolt.DB
	opts  Options
	alloc *preallocator
	reqs  chan *request
	quit  chan struct{}
	wg    sync.WaitGroup

	lazyMu   sync.Mutex
	lazy     map[string][]uint64 // removals waiting for the next commit
	lazyKick chan struct{}

	mu      sync.Mutex
	signals map[string]chan struct{}
	depths  map[string]int
	commits commitStats

	closeMu   sync.RWMutex // held to close quit; read-held to submit
	closeOnce sync.Once
}

type request struct {
	fn   func(*Tx) error
	done chan error      // nil when then is set
	then func(err error) // runs on the writer goroutine
	// forwarded marks traffic from another relay, whose sender does not
	// wait on this commit the way a client does (see SubmitForwarded).
	forwarded bool
}

func (r *request) finish(err error) {
	if r.then != nil {
		r.then(err)
		return
	}
	r.done <- err
}

// Open opens or creates the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.DedupeTTL <= 0 {
		opts.DedupeTTL = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.GroupDelay == 0 {
		opts.GroupDelay = DefaultGroupDelay
	}
	if opts.ForwardInterval == 0 {
		opts.ForwardInterval = DefaultForwardInterval
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 4096
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data_dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := checkFile(path); err != nil {
		return nil, damaged(dir, err)
	}
	db, err := openBolt(path)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: another process holds it (is this relay already running?)", path)
		}
		return nil, damaged(dir, fmt.Errorf("open %s: %w", path, err))
	}
	s := &Store{
		db:       db,
		opts:     opts,
		reqs:     make(chan *request, opts.MaxPending),
		lazy:     make(map[string][]uint64),
		lazyKick: make(chan struct{}, 1),
		quit:     make(chan struct{}),
		signals:  make(map[string]chan struct{}),
		depths:   make(map[string]int),
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	if s.alloc, err = newPreallocator(path); err != nil {
		db.Close()
		return nil, err
	}
	s.preallocate()
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// openBolt opens path for writing; a panic in bbolt (a damaged file that
// checkFile did not catch) becomes an error.
func openBolt(path string) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("%w: %v", ErrDamaged, p)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
}

// damaged adds what to do to an error about a damaged store.
func damaged(dir string, err error) error {
	if !errors.Is(err, ErrDamaged) {
		return err
	}
	return fmt.Errorf("%w. The relay cannot use it: stop it, run `medrelay store check --data-dir %s` for details, "+
		"and recover as the README says (\"Recovering a damaged store\")", err, dir)
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketQueues, bucketSeen, bucketSeenAt, bucketExpiry, bucketRoutes, bucketDead, bucketAudit, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		if err := s.indexSeen(tx); err != nil {
			return err
		}
		if err := indexExpiry(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketQueues).ForEachBucket(func(name []byte) error {
			s.depths[string(name)] = tx.Bucket(bucketQueues).Bucket(name).Stats().KeyN
			return nil
		})
	})
}

// Close stops the writer after the submissions already queued and closes
// the file.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closeMu.Lock()
		close(s.quit)
		s.closeMu.Unlock()
		s.wg.Wait()
		s.alloc.close()
		err = s.db.Close()
	})
	return err
}

// Submit queues fn to run in the next group commit and returns a channel
// that receives nil once the commit is on disk, or the error. fn must make
// its checks before it changes anything: if it returns an error, the
// transaction it shared is rolled back and the other submissions are
// committed again without it.
func (s *Store) Submit(fn func(*Tx) error) <-chan error {
	r := &request{fn: fn, done: make(chan error, 1)}
	s.enqueue(r)
	return r.done
}

// SubmitThen is Submit with a callback instead of a channel: then runs on
// the writer goroutine once the commit is on disk (or failed), which saves
// a goroutine hand-off per batch. then must not block, nor submit.
func (s *Store) SubmitThen(fn func(*Tx) error, then func(error)) {
	s.enqueue(&request{fn: fn, then: then})
}

// SubmitForwarded is SubmitThen for envelopes forwarded by another relay,
// or already durable in the relay's intake journal. Nobody waits on such a
// commit synchronously: the relay that sent them keeps its batches in
// flight, and a journaled client batch was acknowledged already. So while
// such traffic alone is pending, the writer starts commits at most every
// ForwardInterval, and each one serves more batches. On a relay in the
// middle of a path this cuts the fsyncs per envelope several times over,
// leaving the disk to the commits clients wait on. A quiet relay is not
// slowed: its commits are already further apart than the interval.
func (s *Store) SubmitForwarded(fn func(*Tx) error, then func(error)) {
	s.enqueue(&request{fn: fn, then: then, forwarded: true})
}

func (s *Store) enqueue(r *request) {
	// closeMu keeps a submission from landing in reqs after the writer's
	// last drain, where nothing would ever finish it.
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	select {
	case <-s.quit:
		r.finish(ErrClosed)
	default:
		s.reqs <- r
	}
}

// Update submits fn and waits for its commit.
func (s *Store) Update(fn func(*Tx) error) error { return <-s.Submit(fn) }

func (s *Store) writer() {
	defer s.wg.Done()
	var batch []*request
	last := 0 // submissions the previous commit served
	var lastStart time.Time
	// lazyTimer commits removals on their own when no other commit comes.
	lazyTimer := time.NewTimer(time.Hour)
	lazyTimer.Stop()
	armed := false
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.lazyKick:
			if !armed {
				lazyTimer.Reset(LazyDelay)
				armed = true
			}
			continue
		case <-lazyTimer.C:
			armed = false
			batch = batch[:0]
		case <-s.quit:
			s.drainClosed()
			s.commit(nil) // removals still pending
			return
		}
		batch = s.pace(batch, lastStart)
		batch = s.gather(batch, last)
		last = len(batch)
		lastStart = time.Now()
		s.commit(batch)
	}
}

// DefaultGroupDelay is the longest a busy writer waits for a group to fill.
const DefaultGroupDelay = 500 * time.Microsecond

// DefaultForwardInterval is the default Options.ForwardInterval.
const DefaultForwardInterval = 4 * time.Millisecond

// pace holds a batch of forwarded traffic until ForwardInterval has passed
// since the previous commit started, adding what arrives meanwhile. A
// submission a client waits on ends the wait at once.
func (s *Store) pace(batch []*request, lastStart time.Time) []*request {
	wait := s.opts.ForwardInterval - time.Since(lastStart)
	if s.opts.ForwardInterval < 0 || wait <= 0 || !allForwarded(batch) {
		return batch
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
			if !r.forwarded {
				return batch
			}
		case <-t.C:
			return batch
		case <-s.quit:
			return batch
		}
	}
}

func allForwarded(batch []*request) bool {
	for _, r := range batch {
		if !r.forwarded {
			return false
		}
	}
	return len(batch) > 0
}

// gather adds what is pending to batch. When the previous commit served
// several submissions (a busy relay), it waits up to Options.GroupDelay for about
// as many to gather, as PostgreSQL's commit_delay does: the senders the
// last commit released are usually about to submit again, and one commit
// for all of them costs one fsync instead of several. An idle relay (the
// last commit served one submission) never waits.
func (s *Store) gather(batch []*request, last int) []*request {
	var deadline <-chan time.Time
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
			continue
		default:
		}
		if last < 4 || len(batch) >= last || s.opts.GroupDelay < 0 {
			return batch
		}
		if deadline == nil {
			deadline = time.After(s.opts.GroupDelay)
		}
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-deadline:
			return batch
		case <-s.quit:
			return batch
		}
	}
}

// LazyDelay is the longest a RemoveLater waits for a commit to join.
const LazyDelay = 20 * time.Millisecond

// RemoveLater removes entries from queue in the next commit, or after
// LazyDelay. A removal lost in a crash only means the entries are sent
// again, and the next hop dedupes them, so removals need no commit of their
// own: on a busy relay they ride along with the commits that store new
// envelopes, which halves the fsyncs of a relay that forwards.
func (s *Store) RemoveLater(queue string, seqs []uint64) {
	s.lazyMu.Lock()
	first := len(s.lazy) == 0
	s.lazy[queue] = append(s.lazy[queue], seqs...)
	s.lazyMu.Unlock()
	if !first {
		return // the writer was told when the first one came
	}
	select {
	case s.lazyKick <- struct{}{}:
	default:
	}
}

func (s *Store) takeLazy() map[string][]uint64 {
	s.lazyMu.Lock()
	defer s.lazyMu.Unlock()
	if len(s.lazy) == 0 {
		return nil
	}
	l := s.lazy
	s.lazy = make(map[string][]uint64)
	return l
}

func (s *Store) drainClosed() {
	for {
		select {
		case r := <-s.reqs:
			r.finish(ErrClosed)
		default:
			return
		}
	}
}

// commit runs a batch in one transaction. When one function fails, the
// others are committed again without it and it alone gets its error.
func (s *Store) commit(batch []*request) {
	start := time.Now()
	var failed *request
	var failErr error
	lazy := s.takeLazy()
	if len(batch) == 0 && len(lazy) == 0 {
		return
	}
	tx := &Tx{store: s, now: s.opts.Now(), delta: make(map[string]int), added: make(map[string]bool)}
	err := s.db.Update(func(btx *bolt.Tx) error {
		tx.tx = btx
		for q, seqs := range lazy {
			if err := tx.Remove(q, seqs); err != nil {
				return err
			}
		}
		for _, r := range batch {
			if err := r.fn(tx); err != nil {
				failed, failErr = r, err
				return err
			}
		}
		if s.opts.Fault != nil {
			if err := s.opts.Fault(); err != nil {
				return err
			}
		}
		return tx.finish()
	})
	if failed == nil {
		s.recordCommitError(err)
	}
	if failed != nil || err != nil {
		s.restoreLazy(lazy)
	}
	if failed != nil {
		failed.finish(failErr)
		rest := make([]*request, 0, len(batch)-1)
		for _, r := range batch {
			if r != failed {
				rest = append(rest, r)
			}
		}
		if len(rest) > 0 {
			s.commit(rest)
		}
		return
	}
	if err == nil {
		s.applyDepths(tx)
		s.recordCommit(len(batch), time.Since(start))
	}
	// Submitters first: a client waits on its acknowledgement, while the
	// readers woken next (pumps) only forward.
	for _, r := range batch {
		r.finish(err)
	}
	if err == nil {
		s.signalAdded(tx)
		s.preallocate()
	}
}

// preallocate keeps zeros written ahead of bbolt's pages (see prealloc.go).
// Only the writer goroutine (or Open, before it starts) may call it.
func (s *Store) preallocate() {
	var used int64
	s.db.View(func(tx *bolt.Tx) error {
		used = tx.Size()
		return nil
	})
	if err := s.alloc.ensure(used); err != nil {
		s.recordPreallocError(err)
	}
}

func (s *Store) restoreLazy(lazy map[string][]uint64) {
	s.lazyMu.Lock()
	defer s.lazyMu.Unlock()
	for q, seqs := range lazy {
		s.lazy[q] = append(s.lazy[q], seqs...)
	}
}

// applyDepths updates queue depths after a commit.
func (s *Store) applyDepths(tx *Tx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, delta := range tx.delta {
		s.depths[q] += delta
	}
}

// signalAdded wakes the readers of every queue that got entries, even when
// as many were removed in the same commit.
func (s *Store) signalAdded(tx *Tx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := range tx.added {
		if ch, ok := s.signals[q]; ok {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// Signal returns a channel that receives after a commit adds entries to
// queue. It has room for one signal: a reader that drains the queue after
// each receive never misses work.
func (s *Store) Signal(queue string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.signals[queue]
	if !ok {
		ch = make(chan struct{}, 1)
		s.signals[queue] = ch
	}
	return ch
}

// Depths returns the number of entries in each queue.
func (s *Store) Depths() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.depths))
	for q, n := range s.depths {
		if n > 0 {
			out[q] = n
		}
	}
	return out
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}
