package dirstore

import (
	"os"
	"syscall"
)

// syncData flushes the file's data and the metadata needed to read it
// back (its size); on Linux fdatasync skips timestamps and is several
// times faster than fsync.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// syncDir makes the entries of dir durable. It uses the raw system calls:
// os.Open would also probe the descriptor and try to register it with the
// network poller, three more calls per instance for nothing.
func syncDir(dir string) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "sync", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	for {
		err = syscall.Fsync(fd)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return &os.PathError{Op: "sync", Path: dir, Err: err}
	}
	return nil
}

// startWriteback asks the kernel to begin writing a range of f to disk
// without waiting (sync_file_range with SYNC_FILE_RANGE_WRITE), so that
// the fdatasync at the end of a large instance finds most of it written.
// It is a hint for speed only, never a durability guarantee: errors are
// ignored and syncData still runs before success is answered.
func startWriteback(f *os.File, off, n int64) {
	const syncFileRangeWrite = 2
	syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, f.Fd(), uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
}
