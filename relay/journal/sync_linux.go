package journal

import (
	"os"
	"syscall"
)

// fdatasync flushes the file's data without its timestamps: the segments
// never change size, so nothing else needs to reach the disk.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
