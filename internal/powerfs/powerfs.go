// Package powerfs is a file system for tests that loses, on a simulated
// power cut, everything that was not yet made durable, the way a disk
// without power does.
//
// It is mounted with FUSE (github.com/hanwen/go-fuse/v2) and holds two
// layers in memory. Every change (file data, size, a new, renamed or
// removed directory entry) lands in the volatile layer, which is what
// reads see. fsync or fdatasync of a file copies its changed pages and its
// size to the durable layer; fsync of a directory copies that directory's
// entries. Nothing else makes anything durable: a file whose directory was
// never synced since it was created is lost with its data, however often
// the file itself was synced (strict POSIX, stricter than ext4).
//
// Cut is the power cut: from that moment every operation fails with EIO,
// and the durable layer is written out as an ordinary directory tree, on
// which the program under test can be started again. A relay, say, keeps
// its data_dir on the mount; after Cut and killing the relay, the test
// restarts it on the directory Cut returned and checks that everything it
// acknowledged is there.
//
// It is not a general file system: no hard or symbolic links, no
// permissions, no extended attributes; one mutex serializes everything.
// Only tests use it.
package powerfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// pageSize is the unit in which changed file data is tracked.
const pageSize = 4096

// FS is a mounted power-loss file system.
type FS struct {
	// Dir is the mount point.
	Dir string

	mu      sync.Mutex
	cut     bool
	nextIno uint64
	root    *node
	server  *fuse.Server
}

// Available reports why the machine cannot mount FUSE file systems, or nil
// when it can: /dev/fuse must exist and fusermount3 (Debian's fuse3) or
// fusermount must be in PATH.
func Available() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("/dev/fuse is missing (a container needs --device /dev/fuse): %w", err)
	}
	for _, p := range []string{"fusermount3", "fusermount"} {
		if _, err := exec.LookPath(p); err == nil {
			return nil
		}
	}
	return errors.New("fusermount3 not found in PATH (Debian package fuse3; scripts/deps.sh installs it)")
}

// Mount mounts a new file system at dir, starting from the tree in seed
// (copied in, already durable; "" for an empty file system).
func Mount(dir, seed string) (*FS, error) {
	f := &FS{Dir: dir, nextIno: 1}
	f.root = f.newNode(true)
	if seed != "" {
		if err := f.load(f.root, seed); err != nil {
			return nil, fmt.Errorf("powerfs: load %s: %w", seed, err)
		}
	}
	sec := time.Second
	srv, err := fs.Mount(dir, f.root, &fs.Options{
		EntryTimeout: &sec,
		AttrTimeout:  &sec,
		MountOptions: fuse.MountOptions{FsName: "powerfs", Name: "powerfs", DisableXAttrs: true},
	})
	if err != nil {
		return nil, fmt.Errorf("powerfs: mount %s: %w", dir, err)
	}
	f.server = srv
	return f, nil
}

// load copies the tree at path into n as durable content.
func (f *FS) load(n *node, path string) error {
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(path, e.Name())
		var c *node
		switch {
		case e.IsDir():
			c = f.newNode(true)
			if err := f.load(c, p); err != nil {
				return err
			}
		case e.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			c = f.newNode(false)
			c.data, c.durable = b, append([]byte(nil), b...)
		default:
			return fmt.Errorf("%s: only files and directories are supported", p)
		}
		n.entries[e.Name()] = c
		n.durableEntries[e.Name()] = c
	}
	return nil
}

// Cut simulates a power cut: every later operation fails with EIO, and
// the durable layer is written to a new directory tree at dst (which must
// not exist). The program using the mount should be killed next, then the
// file system unmounted with Unmount.
func (f *FS) Cut(dst string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = true
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	return writeDurable(f.root, dst)
}

func writeDurable(n *node, dir string) error {
	for name, c := range n.durableEntries {
		p := filepath.Join(dir, name)
		if c.dir {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			if err := writeDurable(c, p); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, c.durable, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Unmount unmounts the file system; it waits (up to 10s) for the programs
// using it to let go of it.
func (f *FS) Unmount() error {
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = f.server.Unmount(); err == nil {
			return nil
		}
	}
	return fmt.Errorf("powerfs: unmount %s: %w", f.Dir, err)
}

func (f *FS) newNode(dir bool) *node {
	n := &node{fs: f, ino: f.nextIno, dir: dir}
	f.nextIno++
	if dir {
		n.entries = map[string]*node{}
		n.durableEntries = map[string]*node{}
	} else {
		n.dirty = map[int64]bool{}
	}
	return n
}

// node is a file or a directory, with its volatile and durable state.
type node struct {
	fs.Inode
	fs  *FS
	ino uint64
	dir bool

	// files
	data    []byte         // volatile content, what reads see
	durable []byte         // content as of the last fsync
	dirty   map[int64]bool // pages of data changed since the last fsync

	// directories
	entries        map[string]*node // volatile
	durableEntries map[string]*node // as of the last fsync of the directory
}

var (
	_ fs.NodeLookuper  = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeReaddirer = (*node)(nil)
	_ fs.NodeMkdirer   = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRmdirer   = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeReader    = (*node)(nil)
	_ fs.NodeWriter    = (*node)(nil)
	_ fs.NodeFsyncer   = (*node)(nil)
	_ fs.NodeFlusher   = (*node)(nil)
	_ fs.NodeStatfser  = (*node)(nil)
)

// lock takes the file system's lock; it reports EIO after the power cut.
func (n *node) lock() syscall.Errno {
	n.fs.mu.Lock()
	if n.fs.cut {
		n.fs.mu.Unlock()
		return syscall.EIO
	}
	return 0
}

func (n *node) unlock() { n.fs.mu.Unlock() }

func (n *node) attr(out *fuse.Attr) {
	out.Ino = n.ino
	if n.dir {
		out.Mode = syscall.S_IFDIR | 0o755
		out.Nlink = 2
	} else {
		out.Mode = syscall.S_IFREG | 0o644
		out.Nlink = 1
		out.Size = uint64(len(n.data))
		out.Blocks = (out.Size + 511) / 512
	}
	out.Blksize = pageSize
}

func (n *node) stable() fs.StableAttr {
	if n.dir {
		return fs.StableAttr{Mode: syscall.S_IFDIR, Ino: n.ino}
	}
	return fs.StableAttr{Mode: syscall.S_IFREG, Ino: n.ino}
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.lock(); e != 0 {
		return nil, e
	}
	defer n.unlock()
	c, ok := n.entries[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	c.attr(&out.Attr)
	return n.NewInode(ctx, c, c.stable()), 0
}

func (n *node) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := n.lock(); e != 0 {
		return e
	}
	defer n.unlock()
	n.attr(&out.Attr)
	return 0
}

func (n *node) Setattr(ctx context.Context, _ fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := n.lock(); e != 0 {
		return e
	}
	defer n.unlock()
	if size, ok := in.GetSize(); ok && !n.dir {
		n.truncate(int64(size))
	}
	n.attr(&out.Attr)
	return 0
}

// truncate sets the volatile size; the pages between the old and the new
// end change (to zeros or away).
func (n *node) truncate(size int64) {
	old := int64(len(n.data))
	lo, hi := min(old, size), max(old, size)
	for p := lo / pageSize; p*pageSize < hi; p++ {
		n.dirty[p] = true
	}
	if size <= old {
		n.data = n.data[:size]
		return
	}
	n.data = append(n.data, make([]byte, size-old)...)
}

func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if e := n.lock(); e != 0 {
		return nil, e
	}
	defer n.unlock()
	list := make([]fuse.DirEntry, 0, len(n.entries))
	for name, c := range n.entries {
		list = append(list, fuse.DirEntry{Name: name, Ino: c.ino, Mode: c.stable().Mode})
	}
	return fs.NewListDirStream(list), 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.lock(); e != 0 {
		return nil, e
	}
	defer n.unlock()
	if _, ok := n.entries[name]; ok {
		return nil, syscall.EEXIST
	}
	c := n.fs.newNode(true)
	n.entries[name] = c
	c.attr(&out.Attr)
	return n.NewInode(ctx, c, c.stable()), 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if e := n.lock(); e != 0 {
		return nil, nil, 0, e
	}
	defer n.unlock()
	c, ok := n.entries[name]
	switch {
	case ok && flags&syscall.O_EXCL != 0:
		return nil, nil, 0, syscall.EEXIST
	case ok && c.dir:
		return nil, nil, 0, syscall.EISDIR
	case ok && flags&syscall.O_TRUNC != 0:
		c.truncate(0)
	case !ok:
		c = n.fs.newNode(false)
		n.entries[name] = c
	}
	c.attr(&out.Attr)
	return n.NewInode(ctx, c, c.stable()), nil, 0, 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, false)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(name, true)
}

func (n *node) remove(name string, dir bool) syscall.Errno {
	if e := n.lock(); e != 0 {
		return e
	}
	defer n.unlock()
	c, ok := n.entries[name]
	switch {
	case !ok:
		return syscall.ENOENT
	case c.dir != dir && dir:
		return syscall.ENOTDIR
	case c.dir != dir:
		return syscall.EISDIR
	case dir && len(c.entries) > 0:
		return syscall.ENOTEMPTY
	}
	delete(n.entries, name)
	return 0
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := n.lock(); e != 0 {
		return e
	}
	defer n.unlock()
	if flags != 0 {
		return syscall.EINVAL // no RENAME_EXCHANGE or RENAME_NOREPLACE
	}
	to, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	c, ok := n.entries[name]
	if !ok {
		return syscall.ENOENT
	}
	if old, ok := to.entries[newName]; ok && old.dir && len(old.entries) > 0 {
		return syscall.ENOTEMPTY
	}
	delete(n.entries, name)
	to.entries[newName] = c
	return 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if e := n.lock(); e != 0 {
		return nil, 0, e
	}
	defer n.unlock()
	if flags&syscall.O_TRUNC != 0 && !n.dir {
		n.truncate(0)
	}
	return nil, 0, 0
}

func (n *node) Read(ctx context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if e := n.lock(); e != 0 {
		return nil, e
	}
	defer n.unlock()
	if off >= int64(len(n.data)) {
		return fuse.ReadResultData(nil), 0
	}
	k := copy(dest, n.data[off:])
	return fuse.ReadResultData(dest[:k]), 0
}

func (n *node) Write(ctx context.Context, _ fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if e := n.lock(); e != 0 {
		return 0, e
	}
	defer n.unlock()
	end := off + int64(len(data))
	if end > int64(len(n.data)) {
		n.truncate(end)
	}
	copy(n.data[off:], data)
	for p := off / pageSize; p*pageSize < end; p++ {
		n.dirty[p] = true
	}
	return uint32(len(data)), 0
}

// Fsync makes a file's data and size, or a directory's entries, durable.
func (n *node) Fsync(ctx context.Context, _ fs.FileHandle, flags uint32) syscall.Errno {
	if e := n.lock(); e != 0 {
		return e
	}
	defer n.unlock()
	if n.dir {
		clear(n.durableEntries)
		for name, c := range n.entries {
			n.durableEntries[name] = c
		}
		return 0
	}
	if len(n.durable) != len(n.data) {
		d := make([]byte, len(n.data))
		copy(d, n.durable)
		n.durable = d
	}
	for p := range n.dirty {
		lo := p * pageSize
		if lo < int64(len(n.data)) {
			copy(n.durable[lo:min(lo+pageSize, int64(len(n.data)))], n.data[lo:])
		}
	}
	clear(n.dirty)
	return 0
}

// Flush (close) makes nothing durable.
func (n *node) Flush(ctx context.Context, _ fs.FileHandle) syscall.Errno {
	if e := n.lock(); e != 0 {
		return e
	}
	n.unlock()
	return 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	const blocks = 1 << 24 // 64 GiB of 4 KiB blocks, all free
	out.Blocks, out.Bfree, out.Bavail = blocks, blocks, blocks
	out.Files, out.Ffree = 1<<20, 1<<20
	out.Bsize, out.Frsize, out.NameLen = pageSize, pageSize, 255
	return 0
}
