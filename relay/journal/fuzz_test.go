package journal

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// encodeRecords lays records out the way write does.
func encodeRecords(recs []Record) []byte {
	var b []byte
	for _, r := range recs {
		var h [headerSize]byte
		binary.LittleEndian.PutUint32(h[4:8], uint32(len(r.Data)))
		binary.LittleEndian.PutUint64(h[8:16], r.Seq)
		binary.LittleEndian.PutUint32(h[0:4], checksum(h[4:16], r.Data))
		b = append(append(b, h[:]...), r.Data...)
	}
	return b
}

// FuzzScan checks the recovery scan of a segment: whatever the bytes, the
// records it returns are numbered one after another, lie back to back
// from the front of the segment, and are found again when laid out anew.
func FuzzScan(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, dropped := scan(b)
		for i, seq := range dropped {
			if i == 0 && len(recs) > 0 && seq != recs[len(recs)-1].Seq+1 || i > 0 && seq != dropped[i-1]+1 {
				t.Fatalf("dropped %v after records up to %v: not the numbers that follow", dropped, recs)
			}
		}
		off := 0
		for i, r := range recs {
			if r.Seq == 0 || i > 0 && r.Seq != recs[i-1].Seq+1 {
				t.Fatalf("record %d has seq %d after %v", i, r.Seq, recs[:i])
			}
			if !bytes.Equal(b[off+headerSize:off+headerSize+len(r.Data)], r.Data) {
				t.Fatalf("record %d is not where the scan stopped before it", i)
			}
			off += headerSize + len(r.Data)
		}
		again, _ := scan(encodeRecords(recs))
		if len(again) != len(recs) {
			t.Fatalf("re-encoded %d records, scan found %d", len(recs), len(again))
		}
		for i := range again {
			if again[i].Seq != recs[i].Seq || !bytes.Equal(again[i].Data, recs[i].Data) {
				t.Fatalf("record %d changed on the way through", i)
			}
		}
	})
}

// FuzzOpen opens a journal whose two segments hold arbitrary bytes: Open
// returns the records after applied in order, and a record appended next
// is found after a reopen, after all of them.
func FuzzOpen(f *testing.F) {
	f.Add([]byte{}, []byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, seg0, seg1 []byte, applied uint64) {
		const size = 4096
		dir := memDir(t)
		for i, b := range [][]byte{seg0, seg1} {
			if err := os.WriteFile(filepath.Join(dir, "journal-"+string(rune('0'+i))), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		j, recs, err := Open(dir, applied, Options{SegmentSize: size})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if !slices.IsSortedFunc(recs, func(a, b Record) int { return compareSeq(a.Seq, b.Seq) }) {
			j.Close()
			t.Fatalf("records out of order: %v", recs)
		}
		for _, r := range recs {
			if r.Seq <= applied {
				j.Close()
				t.Fatalf("returned record %d, applied is %d", r.Seq, applied)
			}
		}
		last := applied
		if len(recs) > 0 {
			last = recs[len(recs)-1].Seq
		}
		j.Applied(last) // the caller applies what Open returned
		seq, err := appendWait(j, []byte("after"))
		j.Close()
		if err != nil {
			return // full: the fuzzed segments fill the journal
		}
		if seq <= last {
			t.Fatalf("appended record got seq %d, not after %d", seq, last)
		}
		j2, again, err := Open(dir, last, Options{SegmentSize: size})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		j2.Close()
		if !slices.ContainsFunc(again, func(r Record) bool { return r.Seq == seq && string(r.Data) == "after" }) {
			t.Fatalf("record %d appended before the reopen is not found: %v", seq, again)
		}
	})
}

// memDir returns a temporary directory in memory when the machine has
// /dev/shm: each Open syncs, which on a busy disk would slow fuzzing to a
// few runs a second.
func memDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "journal-fuzz-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestWriteFuzzSeeds writes segments the journal itself wrote (see
// internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	segment := func(dir string, i int) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "journal-"+string(rune('0'+i))))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.TrimRight(b, "\x00") // the zeros after the last record add nothing
	}
	// Five records in the first segment.
	dir := t.TempDir()
	j, _ := mustOpen(t, dir, 0, Options{SegmentSize: 4096})
	for i := 1; i <= 5; i++ {
		appendWait(j, data(i))
	}
	j.Close()
	five := segment(dir, 0)
	fuzzseed.Write(t, "FuzzScan", "five-records", five)
	fuzzseed.Write(t, "FuzzScan", "torn-last-record", five[:len(five)-3])
	fuzzseed.Write(t, "FuzzOpen", "five-records-two-applied", five, []byte{}, uint64(2))

	// Both segments used: the second run overwrote the front of the first.
	dir = t.TempDir()
	j, _ = mustOpen(t, dir, 0, Options{SegmentSize: 1024})
	for i := 1; i <= 40; i++ {
		seq, err := appendWait(j, data(i))
		if err != nil {
			t.Fatal(err)
		}
		j.Applied(seq - 1)
	}
	j.Close()
	s0, s1 := segment(dir, 0), segment(dir, 1)
	fuzzseed.Write(t, "FuzzScan", "reused-segment", s0)
	fuzzseed.Write(t, "FuzzOpen", "both-segments", s0, s1, uint64(30))
}
