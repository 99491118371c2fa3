//go:build !linux

package dirstore

import (
	"fmt"
	"os"
)

// syncData flushes the file to stable storage.
func syncData(f *os.File) error { return f.Sync() }

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// startWriteback is a no-op here (see the Linux version).
func startWriteback(*os.File, int64, int64) {}
