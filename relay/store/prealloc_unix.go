//go:build unix

package store

import (
	"os"
	"syscall"
)

// blocksOf returns the bytes the file system has allocated to the file.
func blocksOf(fi os.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks * 512, true
}
