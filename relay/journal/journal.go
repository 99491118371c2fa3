// Package journal is a relay's intake journal: an append-only log that
// makes a client's batch durable with one small write and one fdatasync,
// so that the relay can acknowledge it at once and apply it to its bbolt
// store later, in a larger group commit.
//
// A bbolt commit syncs twice (its pages, then its meta page), and a client
// sending one envelope at a time waits for both. The journal halves that
// wait. It is only a staging area: every record is applied to the store,
// and the store remembers the highest record applied (see Open), so a
// record is never applied twice. After a crash, Open returns the records
// the store had not applied yet, and the relay applies them before it
// serves anyone.
//
// The journal is two segment files of zeros written ahead, used in turn.
// Writing into blocks the file system already allocated needs no metadata
// change, so fdatasync flushes only the data. A segment is reused only when
// every record in it has been applied; when neither segment has room,
// Append refuses and the caller stores the batch the slow way.
package journal

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// DefaultSegmentSize is the size of each of the two segment files. A
// segment is reused once the store has applied it, which takes a few
// milliseconds, so at 10 MB/s of intake 8 MiB leaves a wide margin.
const DefaultSegmentSize = 8 << 20

// headerSize is a record's header: CRC-32C, data length, sequence number.
const headerSize = 16

var (
	// ErrFull means neither segment has room until more records are
	// applied; the caller should store the data another way.
	ErrFull = errors.New("journal full")
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("journal closed")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one appended piece of data and its sequence number.
type Record struct {
	Seq  uint64
	Data []byte
}

// Options configure a Journal. The zero value is usable.
type Options struct {
	// SegmentSize is the size of each segment file (default
	// DefaultSegmentSize). Data larger than a quarter of it is refused
	// with ErrFull.
	SegmentSize int64
}

// Journal appends records with group commit: one writer goroutine writes
// everything pending in one write and syncs once.
type Journal struct {
	segs    [2]*segment
	active  int   // segment being appended to
	off     int64 // where the next record goes in the active segment
	next    uint64
	max     int64    // largest data accepted
	broken  error    // set by a failed write; every later append fails
	dropped int      // records Open dropped at a bad checksum
	damage  []string // where, in words

	mu      sync.Mutex
	applied uint64 // highest sequence number the store applied
	pending []*appendReq
	closed  bool
	kick    chan struct{}
	done    chan struct{}
}

type segment struct {
	f    *os.File
	size int64
	last uint64 // highest sequence number written to it
}

type appendReq struct {
	data []byte
	done func(seq uint64, err error)
}

// Open opens or creates the journal in dir. applied is the highest
// sequence number the store has applied; Open returns the records after
// it, in order. The caller must apply them and report it with Applied
// before it appends: the journal reuses segments, and it counts on every
// record it found being applied.
func Open(dir string, applied uint64, opts Options) (*Journal, []Record, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	j := &Journal{
		applied: applied,
		max:     opts.SegmentSize / 4,
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	var found []Record
	for i := range j.segs {
		name := filepath.Join(dir, fmt.Sprintf("journal-%d", i))
		seg, recs, dropped, err := openSegment(name, opts.SegmentSize)
		if err != nil {
			j.closeFiles()
			return nil, nil, err
		}
		j.segs[i] = seg
		found = append(found, recs...)
		dropped = slices.DeleteFunc(dropped, func(seq uint64) bool { return seq <= applied })
		if len(dropped) > 0 {
			j.damage = append(j.damage, fmt.Sprintf("%s: record %d has a bad checksum; it and the %d intact records after it (%d to %d) are dropped",
				name, dropped[0], len(dropped)-1, dropped[0], dropped[len(dropped)-1]))
			j.dropped += len(dropped)
		}
	}
	slices.SortFunc(found, func(a, b Record) int { return cmp.Compare(a.Seq, b.Seq) })
	j.next = applied + 1
	var todo []Record
	for _, r := range found {
		j.next = max(j.next, r.Seq+1)
		if r.Seq > applied {
			todo = append(todo, r)
		}
	}
	// New records start at the front of the older segment; the caller
	// applies everything found before the first append overwrites it.
	j.active = 0
	if j.segs[1].last < j.segs[0].last {
		j.active = 1
	}
	go j.writer()
	return j, todo, nil
}

// openSegment opens a segment file, writing zeros up to size, and reads
// its records (see scan).
func openSegment(path string, size int64) (*segment, []Record, []uint64, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open journal: %w", err)
	}
	content, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	recs, dropped := scan(content)
	seg := &segment{f: f, size: max(size, int64(len(content)))}
	for _, r := range recs {
		seg.last = max(seg.last, r.Seq)
	}
	if err := zeroFill(f, int64(len(content)), seg.size); err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("prepare journal %s: %w", path, err)
	}
	return seg, recs, dropped, nil
}

// Dropped returns how many records not yet applied Open dropped at a bad
// checksum, and where, for the relay to report; a write torn by a crash
// (the last record, never acknowledged) is one.
func (j *Journal) Dropped() (int, []string) { return j.dropped, j.damage }

// zeroFill writes zeros from off to size and syncs, so that later writes
// land in allocated blocks.
func zeroFill(f *os.File, off, size int64) error {
	if off >= size {
		return nil
	}
	zeros := make([]byte, 1<<20)
	for ; off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(f.Name()))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// scan returns the run of valid records at the front of a segment: each
// one intact (its checksum matches) and numbered one after the one
// before. The run ends at zeros, at a torn write, or where an older run,
// with lower numbers, continues. When it ends at a record whose checksum
// does not match, dropped lists that record's number and those of the
// intact records that follow it in sequence: records the journal cannot
// apply (after the damaged one, order would not be kept).
func scan(b []byte) (recs []Record, dropped []uint64) {
	off := 0
	for off+headerSize <= len(b) {
		h := b[off : off+headerSize]
		n := int(binary.LittleEndian.Uint32(h[4:8]))
		seq := binary.LittleEndian.Uint64(h[8:16])
		end := off + headerSize + n
		if seq == 0 || n > len(b) || end > len(b) {
			break
		}
		if len(recs) > 0 && seq != recs[len(recs)-1].Seq+1 {
			break
		}
		if binary.LittleEndian.Uint32(h[0:4]) != checksum(h[4:16], b[off+headerSize:end]) {
			dropped = append(dropped, seq)
			dropped = append(dropped, intactAfter(b, end, seq)...)
			break
		}
		recs = append(recs, Record{Seq: seq, Data: b[off+headerSize : end]})
		off = end
	}
	return recs, dropped
}

// intactAfter returns the numbers of the intact records from off on that
// continue the sequence after seq.
func intactAfter(b []byte, off int, seq uint64) []uint64 {
	var out []uint64
	for off >= 0 && off+headerSize <= len(b) {
		h := b[off : off+headerSize]
		n := int(binary.LittleEndian.Uint32(h[4:8]))
		end := off + headerSize + n
		if binary.LittleEndian.Uint64(h[8:16]) != seq+1 || n > len(b) || end > len(b) ||
			binary.LittleEndian.Uint32(h[0:4]) != checksum(h[4:16], b[off+headerSize:end]) {
			break
		}
		seq++
		out = append(out, seq)
		off = end
	}
	return out
}

func checksum(header, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(header, castagnoli), castagnoli, data)
}

// Append writes data to the journal. done runs on the journal's writer
// goroutine once the record is on disk, with its sequence number, or with
// an error: ErrFull or ErrClosed (nothing was written; store the data
// another way) or a write error. Records are numbered, written and
// reported in the order of Append calls; done must not block for long.
func (j *Journal) Append(data []byte, done func(seq uint64, err error)) {
	if int64(len(data)) > j.max {
		done(0, ErrFull)
		return
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		done(0, ErrClosed)
		return
	}
	j.pending = append(j.pending, &appendReq{data: data, done: done})
	select { // under mu: Close closes kick
	case j.kick <- struct{}{}:
	default:
	}
	j.mu.Unlock()
}

// Applied records that every record up to seq is applied to the store and
// committed there, so that its space may be reused.
func (j *Journal) Applied(seq uint64) {
	j.mu.Lock()
	j.applied = max(j.applied, seq)
	j.mu.Unlock()
}

// Close stops the writer after the records already appended and closes
// the files. Appends after Close get ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.kick)
	<-j.done
	return j.closeFiles()
}

func (j *Journal) closeFiles() error {
	var err error
	for _, s := range j.segs {
		if s != nil {
			err = errors.Join(err, s.f.Close())
		}
	}
	return err
}

func (j *Journal) writer() {
	defer close(j.done)
	var buf []byte
	for range j.kick {
		for {
			j.mu.Lock()
			reqs := j.pending
			j.pending = nil
			applied := j.applied
			j.mu.Unlock()
			if len(reqs) == 0 {
				break
			}
			buf = j.write(reqs, applied, buf[:0])
		}
	}
	// Close: the kick channel is closed, nothing can be added any more.
	j.mu.Lock()
	reqs := j.pending
	j.pending = nil
	applied := j.applied
	j.mu.Unlock()
	if len(reqs) > 0 {
		j.write(reqs, applied, nil)
	}
}

// write appends reqs in one write and one sync (two when the active
// segment fills up on the way), and reports to each.
func (j *Journal) write(reqs []*appendReq, applied uint64, buf []byte) []byte {
	var group []placed
	start := j.off
	for _, r := range reqs {
		if j.broken != nil {
			r.done(0, j.broken)
			continue
		}
		need := int64(headerSize + len(r.data))
		if j.off+need > j.segs[j.active].size {
			j.flush(group, buf, start)
			group, buf = group[:0], buf[:0]
			if j.broken != nil {
				r.done(0, j.broken)
				continue
			}
			if !j.rotate(applied) {
				r.done(0, ErrFull)
				continue
			}
			start = 0
		}
		seq := j.next
		j.next++
		var h [headerSize]byte
		binary.LittleEndian.PutUint32(h[4:8], uint32(len(r.data)))
		binary.LittleEndian.PutUint64(h[8:16], seq)
		binary.LittleEndian.PutUint32(h[0:4], checksum(h[4:16], r.data))
		buf = append(append(buf, h[:]...), r.data...)
		j.off += need
		group = append(group, placed{r, seq})
	}
	j.flush(group, buf, start)
	return buf[:0]
}

type placed struct {
	req *appendReq
	seq uint64
}

// rotate moves to the front of the other segment when all its records
// are applied.
func (j *Journal) rotate(applied uint64) bool {
	other := 1 - j.active
	if j.segs[other].last > applied {
		return false
	}
	j.active, j.off = other, 0
	return true
}

// flush writes buf, which holds group's records, at off in the active
// segment, syncs, and reports to each record's appender. After a failed
// write the rest of the segment cannot be trusted, so the journal
// refuses all later appends: what it acknowledged before stays readable.
func (j *Journal) flush(group []placed, buf []byte, off int64) {
	if len(group) == 0 {
		return
	}
	seg := j.segs[j.active]
	_, err := seg.f.WriteAt(buf, off)
	if err == nil {
		err = fdatasync(seg.f)
	}
	if err != nil {
		err = fmt.Errorf("write journal %s: %w", seg.f.Name(), err)
		j.broken = err
	} else {
		seg.last = group[len(group)-1].seq
	}
	for _, p := range group {
		p.req.done(p.seq, err)
	}
}
