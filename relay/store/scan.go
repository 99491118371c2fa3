package store

import (
	bolt "go.etcd.io/bbolt"
)

// ForEachQueued calls fn with every queued entry of every queue, in one
// read transaction, until fn returns false. raw is valid only during the
// call. It reads the whole queue file: meant for rare scans such as the
// file store's garbage collection, not for the delivery path.
func (s *Store) ForEachQueued(fn func(queue string, raw []byte) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		qs := tx.Bucket(bucketQueues)
		stop := false
		return qs.ForEachBucket(func(name []byte) error {
			if stop {
				return nil
			}
			return qs.Bucket(name).ForEach(func(_, v []byte) error {
				if !stop && !fn(string(name), v) {
					stop = true
				}
				return nil
			})
		})
	})
}
