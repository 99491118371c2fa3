package store

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketGrants holds read grants of files: reader NUL key -> expiry
// (Unix seconds). Made on first use.
var bucketGrants = []byte("grants")

func grantKey(reader, key string) []byte {
	return append(append([]byte(reader), 0), key...)
}

// Grant lets reader (a local client id) read the file at key until the
// given time. A key ending in "/" grants every key under it.
func (t *Tx) Grant(reader, key string, until time.Time) error {
	b, err := t.tx.CreateBucketIfNotExists(bucketGrants)
	if err != nil {
		return err
	}
	k := grantKey(reader, key)
	if old := b.Get(k); old != nil && int64(binary.BigEndian.Uint64(old)) >= until.Unix() {
		return nil
	}
	return b.Put(k, u64(uint64(until.Unix())))
}

// Granted reports whether reader may read key at now: a grant of key
// itself, or of a prefix of it that ends in "/".
func (s *Store) Granted(reader, key string, now time.Time) bool {
	ok := false
	s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGrants)
		if b == nil {
			return nil
		}
		check := func(k string) {
			if v := b.Get(grantKey(reader, k)); v != nil && int64(binary.BigEndian.Uint64(v)) >= now.Unix() {
				ok = true
			}
		}
		check(key)
		for i := strings.IndexByte(key, '/'); i >= 0 && !ok; {
			check(key[:i+1])
			j := strings.IndexByte(key[i+1:], '/')
			if j < 0 {
				break
			}
			i += j + 1
		}
		return nil
	})
	return ok
}

// PruneGrants removes grants that expired before now.
func (s *Store) PruneGrants(now time.Time) (int, error) {
	var stale [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGrants)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if int64(binary.BigEndian.Uint64(v)) < now.Unix() {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	return len(stale), s.Update(func(tx *Tx) error {
		b := tx.tx.Bucket(bucketGrants)
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
