package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// A damaged relay.db must give an error, not a crash: bbolt trusts its
// pages, panics on one that is not what it expects, and does so on a
// goroutine of its own while it opens a file without a synced freelist
// (where nothing can recover). So before the store opens a file for
// writing, checkFile opens it read-only, which reads no freelist, and
// walks every page of every bucket on the caller's goroutine, turning
// bbolt's panics and memory faults into an error.

// ErrDamaged wraps every report of a damaged relay.db.
var ErrDamaged = errors.New("relay.db is damaged")

// Report is what Check found in a store.
type Report struct {
	Path        string
	Size        int64
	Queues      map[string]int // entries per queue
	DeadLetters int
	Seen        int // dedupe records
	Audit       int // audit records
	Journal     uint64
}

// Check opens the store in dir read-only, walks every page, runs bbolt's
// own consistency check and counts what the store holds. It changes
// nothing, and may run while the relay is stopped only (the relay holds
// the file's lock).
func Check(dir string) (Report, error) {
	path := filepath.Join(dir, FileName)
	rep := Report{Path: path, Queues: map[string]int{}}
	fi, err := os.Stat(path)
	if err != nil {
		return rep, err
	}
	rep.Size = fi.Size()
	err = withReadOnly(path, func(db *bolt.DB) error {
		if err := walk(db); err != nil {
			return err
		}
		return db.View(func(tx *bolt.Tx) error {
			var problems []string
			for err := range tx.Check() {
				problems = append(problems, err.Error())
			}
			if len(problems) > 0 {
				sort.Strings(problems)
				return fmt.Errorf("%w: %d problems, the first: %s", ErrDamaged, len(problems), problems[0])
			}
			count := func(name []byte) int {
				if b := tx.Bucket(name); b != nil {
					return b.Stats().KeyN
				}
				return 0
			}
			rep.DeadLetters, rep.Seen, rep.Audit = count(bucketDead), count(bucketSeen), count(bucketAudit)
			if m := tx.Bucket(bucketMeta); m != nil {
				rep.Journal = decodeU64(m.Get(keyJournal))
			}
			if qs := tx.Bucket(bucketQueues); qs != nil {
				return qs.ForEachBucket(func(name []byte) error {
					rep.Queues[string(name)] = qs.Bucket(name).Stats().KeyN
					return nil
				})
			}
			return nil
		})
	})
	return rep, err
}

// checkFile is Open's check of an existing file (see above).
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		return nil // a new store
	}
	return withReadOnly(path, walk)
}

// withReadOnly opens path read-only and calls fn, turning a bbolt panic
// or memory fault on this goroutine into ErrDamaged.
func withReadOnly(path string, fn func(*bolt.DB) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrDamaged, p)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("open %s: another process holds it (is this relay already running?)", path)
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			return fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	return fn(db)
}

// walk reads every key and value of every bucket, which visits every page
// bbolt reaches from the root.
func walk(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walkBucket(b) })
	})
}

func walkBucket(b *bolt.Bucket) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				if err := walkBucket(sub); err != nil {
					return err
				}
			}
			continue
		}
		if len(v) > 0 {
			_ = v[len(v)-1] // touch the value's last page
		}
	}
	return nil
}
