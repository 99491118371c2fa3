package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func appendWait(j *Journal, data []byte) (uint64, error) {
	type res struct {
		seq uint64
		err error
	}
	ch := make(chan res, 1)
	j.Append(data, func(seq uint64, err error) { ch <- res{seq, err} })
	r := <-ch
	return r.seq, r.err
}

func mustOpen(t *testing.T, dir string, applied uint64, opts Options) (*Journal, []Record) {
	t.Helper()
	j, recs, err := Open(dir, applied, opts)
	if err != nil {
		t.Fatal(err)
	}
	return j, recs
}

func data(i int) []byte {
	return []byte(fmt.Sprintf("record %d %s", i, bytes.Repeat([]byte{'x'}, i%50)))
}

func checkRecords(t *testing.T, recs []Record, from, to int) {
	t.Helper()
	if len(recs) != to-from+1 {
		t.Fatalf("found %d records, want %d..%d", len(recs), from, to)
	}
	for k, r := range recs {
		i := from + k
		if r.Seq != uint64(i) || !bytes.Equal(r.Data, data(i)) {
			t.Fatalf("record %d = seq %d %q, want seq %d %q", k, r.Seq, r.Data, i, data(i))
		}
	}
}

func TestReopenReturnsRecordsNotApplied(t *testing.T) {
	dir := t.TempDir()
	j, recs := mustOpen(t, dir, 0, Options{})
	if len(recs) != 0 {
		t.Fatalf("new journal has %d records", len(recs))
	}
	for i := 1; i <= 20; i++ {
		if seq, err := appendWait(j, data(i)); err != nil || seq != uint64(i) {
			t.Fatalf("append %d: seq %d, %v", i, seq, err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, recs = mustOpen(t, dir, 0, Options{})
	checkRecords(t, recs, 1, 20)
	j.Close()
	// The store applied up to 12: only the rest comes back, and new
	// records are numbered after everything found.
	j, recs = mustOpen(t, dir, 12, Options{})
	checkRecords(t, recs, 13, 20)
	j.Applied(20)
	if seq, err := appendWait(j, data(21)); err != nil || seq != 21 {
		t.Fatalf("append after reopen: seq %d, %v", seq, err)
	}
	j.Close()
	_, recs = mustOpen(t, dir, 20, Options{})
	checkRecords(t, recs, 21, 21)
}

func TestTornRecordEndsTheRun(t *testing.T) {
	dir := t.TempDir()
	j, _ := mustOpen(t, dir, 0, Options{})
	for i := 1; i <= 5; i++ {
		if _, err := appendWait(j, data(i)); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// A crash in the middle of writing record 5: its last bytes never
	// reached the disk.
	path := filepath.Join(dir, "journal-0")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := 0
	for i := 1; i <= 5; i++ {
		end += headerSize + len(data(i))
	}
	b[end-1] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	j, recs := mustOpen(t, dir, 0, Options{})
	checkRecords(t, recs, 1, 4)
	if n, where := j.Dropped(); n != 1 || len(where) != 1 {
		t.Errorf("Dropped = %d, %q; want the torn record 5", n, where)
	}
	j.Close()
}

// A damaged record in the middle ends the run, and Open says how many
// records it dropped there: the damaged one and the intact ones after it.
func TestDamagedRecordReportsWhatIsDropped(t *testing.T) {
	dir := t.TempDir()
	j, _ := mustOpen(t, dir, 0, Options{})
	for i := 1; i <= 10; i++ {
		if _, err := appendWait(j, data(i)); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	path := filepath.Join(dir, "journal-0")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i := 1; i <= 3; i++ {
		off += headerSize + len(data(i))
	}
	b[off+headerSize] ^= 0xff // record 4's first data byte
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	j, recs := mustOpen(t, dir, 0, Options{})
	checkRecords(t, recs, 1, 3)
	n, where := j.Dropped()
	if n != 7 || len(where) != 1 || !strings.Contains(where[0], "record 4 has a bad checksum; it and the 6 intact records after it (4 to 10) are dropped") {
		t.Errorf("Dropped = %d, %q; want records 4 to 10", n, where)
	}
	j.Close()
	// Records the store applied already are not counted.
	j, _ = mustOpen(t, dir, 10, Options{})
	if n, _ := j.Dropped(); n != 0 {
		t.Errorf("Dropped = %d after all were applied, want 0", n)
	}
	j.Close()
}

func TestSegmentsAreReusedOnlyWhenApplied(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4096}
	j, _ := mustOpen(t, dir, 0, opts)
	// Fill both segments while the store applies nothing.
	n := 0
	for {
		seq, err := appendWait(j, data(n+1))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil || seq != uint64(n+1) {
			t.Fatalf("append %d: seq %d, %v", n+1, seq, err)
		}
		n++
	}
	if n < 2*4096/(headerSize+100) {
		t.Fatalf("only %d records fit in two segments of 4096 bytes", n)
	}
	// Applying the first segment's records frees it. The refused append
	// took no number.
	j.Applied(uint64(n))
	seq, err := appendWait(j, data(n+1))
	if err != nil || seq != uint64(n+1) {
		t.Fatalf("append after apply: seq %d, %v", seq, err)
	}
	j.Close()
	// The reused segment's older records are not mistaken for new ones.
	_, recs := mustOpen(t, dir, uint64(n), opts)
	checkRecords(t, recs, n+1, n+1)
	_, recs = mustOpen(t, dir, 0, opts)
	for i, r := range recs {
		if i > 0 && r.Seq <= recs[i-1].Seq {
			t.Fatalf("records out of order: %d after %d", r.Seq, recs[i-1].Seq)
		}
	}
	if last := recs[len(recs)-1]; last.Seq != uint64(n+1) {
		t.Fatalf("last record found is %d, want %d", last.Seq, n+1)
	}
}

func TestConcurrentAppendsAreNumberedInOrder(t *testing.T) {
	dir := t.TempDir()
	j, _ := mustOpen(t, dir, 0, Options{})
	var mu sync.Mutex
	var reported []uint64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				ch := make(chan struct{})
				j.Append([]byte(fmt.Sprintf("%d-%d", g, i)), func(seq uint64, err error) {
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					reported = append(reported, seq)
					mu.Unlock()
					close(ch)
				})
				<-ch
			}
		}()
	}
	wg.Wait()
	j.Close()
	for i, seq := range reported {
		if seq != uint64(i+1) {
			t.Fatalf("report %d has seq %d: reports come in order of number", i, seq)
		}
	}
	_, recs := mustOpen(t, dir, 0, Options{})
	if len(recs) != 400 {
		t.Fatalf("found %d records, want 400", len(recs))
	}
}

func TestRefusals(t *testing.T) {
	j, _ := mustOpen(t, t.TempDir(), 0, Options{SegmentSize: 4096})
	if _, err := appendWait(j, make([]byte, 2000)); !errors.Is(err, ErrFull) {
		t.Fatalf("append of half a segment: %v, want ErrFull", err)
	}
	j.Close()
	if _, err := appendWait(j, []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
}

// After a failed write the journal cannot vouch for what follows it, so
// it refuses every later append instead of acknowledging it.
func TestAWriteErrorStopsTheJournal(t *testing.T) {
	j, _ := mustOpen(t, t.TempDir(), 0, Options{})
	if _, err := appendWait(j, data(1)); err != nil {
		t.Fatal(err)
	}
	j.segs[j.active].f.Close() // the disk goes away
	if _, err := appendWait(j, data(2)); err == nil || errors.Is(err, ErrFull) {
		t.Fatalf("append to a closed file: %v, want the write error", err)
	}
	if _, err := appendWait(j, data(3)); err == nil || errors.Is(err, ErrFull) {
		t.Fatalf("append after a write error: %v, want the write error", err)
	}
}
