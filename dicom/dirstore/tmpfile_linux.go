//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package dirstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"
)

// oTmpFile is O_TMPFILE (with O_DIRECTORY) on the architectures that use
// the generic open flags; the syscall package does not define it.
const oTmpFile = 0o20200000

// atSymlinkFollow makes linkat follow /proc/self/fd/N to the open file.
const atSymlinkFollow = 0x400

// openTmpFile creates an unnamed regular file on dir's file system: it has
// no directory entry, so a crash or an abort frees it, and creating it
// costs far less than a named file on some file systems.
func openTmpFile(dir string) (*os.File, error) {
	for {
		fd, err := syscall.Open(dir, syscall.O_WRONLY|syscall.O_CLOEXEC|oTmpFile, 0o600)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
		}
		return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
	}
}

// linkTmpFile names the unnamed file f as final. When final exists (an
// instance sent again), f is linked under a temporary name in the same
// folder and renamed over it, so the replacement is atomic.
func linkTmpFile(f *os.File, dir, final string) error {
	err := linkat(f, final)
	if !errors.Is(err, syscall.EEXIST) {
		return err
	}
	for i := 0; ; i++ {
		tmp := filepath.Join(dir, "."+filepath.Base(final)+"."+strconv.Itoa(os.Getpid())+"."+strconv.Itoa(i)+".part")
		err = linkat(f, tmp)
		if errors.Is(err, syscall.EEXIST) && i < 100 {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			os.Remove(tmp)
			return err
		}
		return nil
	}
}

func linkat(f *os.File, path string) error {
	src, err := syscall.BytePtrFromString("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return err
	}
	dst, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	atFDCWD := -100
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_LINKAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(src)),
			uintptr(atFDCWD), uintptr(unsafe.Pointer(dst)), atSymlinkFollow, 0)
		switch e {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		}
		return &os.LinkError{Op: "linkat", Old: f.Name(), New: path, Err: e}
	}
}

// probeTmpFile reports whether unnamed files can be created in dir and
// linked into it (kernel, file system and a mounted /proc all agree).
func probeTmpFile(dir string) bool {
	f, err := openTmpFile(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	name := filepath.Join(dir, fmt.Sprintf(".probe.%d.part", os.Getpid()))
	if err := linkat(f, name); err != nil {
		return false
	}
	os.Remove(name)
	return true
}
