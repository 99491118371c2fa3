package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/medrelay/medrelay/relay/audit"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestQueueSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for i := 0; i < 5; i++ {
		raw := []byte(fmt.Sprintf("env-%d", i))
		if err := s.Update(func(tx *Tx) error { _, err := tx.Enqueue("child/county-a", raw); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(func(tx *Tx) error { return tx.Remove("child/county-a", []uint64{1, 2}) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir)
	got, err := s.Read("child/county-a", 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Seq != 3 || string(got[0].Raw) != "env-2" || string(got[2].Raw) != "env-4" {
		t.Errorf("after reopen got %v, want env-2..env-4", got)
	}
	if d := s.Depths()["child/county-a"]; d != 3 {
		t.Errorf("depth = %d, want 3", d)
	}
	// Read after a sequence and with a byte limit.
	got, _ = s.Read("child/county-a", 3, 100, 1)
	if len(got) != 1 || got[0].Seq != 4 {
		t.Errorf("Read(after 3, 1 byte) = %v, want just seq 4", got)
	}
}

func TestGroupCommitSharesTransactions(t *testing.T) {
	s := open(t, t.TempDir())
	const n = 400
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Update(func(tx *Tx) error { _, err := tx.Enqueue("q", []byte("x")); return err }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Submissions != n {
		t.Errorf("submissions = %d, want %d", st.Submissions, n)
	}
	if st.Commits >= n {
		t.Errorf("%d commits for %d concurrent submissions: commits were not grouped", st.Commits, n)
	}
	if d := s.Depths()["q"]; d != n {
		t.Errorf("depth = %d, want %d", d, n)
	}
}

func TestFailedSubmissionChangesNothingAndSparesOthers(t *testing.T) {
	s := open(t, t.TempDir())
	boom := errors.New("boom")
	release := make(chan struct{})
	// Hold the writer so that all three land in one group.
	blocker := s.Submit(func(tx *Tx) error { <-release; return nil })
	a := s.Submit(func(tx *Tx) error { _, err := tx.Enqueue("q", []byte("a")); return err })
	bad := s.Submit(func(tx *Tx) error { tx.Enqueue("q", []byte("bad")); return boom })
	c := s.Submit(func(tx *Tx) error { _, err := tx.Enqueue("q", []byte("c")); return err })
	close(release)
	for _, ch := range []<-chan error{blocker, a, c} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-bad; !errors.Is(err, boom) {
		t.Errorf("failed submission got %v, want boom", err)
	}
	got, _ := s.Read("q", 0, 10, 1<<20)
	if len(got) != 2 || string(got[0].Raw) != "a" || string(got[1].Raw) != "c" {
		t.Errorf("queue = %v, want a and c only", got)
	}
}

func TestRoutesAndDeadLetters(t *testing.T) {
	s := open(t, t.TempDir())
	s.Update(func(tx *Tx) error { return tx.SetSubtree("county-a", []string{"county-a", "township-a1"}) })
	s.Update(func(tx *Tx) error { return tx.SetSubtree("county-a", []string{"county-a"}) })
	s.Update(func(tx *Tx) error { return tx.DeadLetter("main", []byte("raw"), "unknown relay x") })
	r, _ := s.Routes()
	if len(r) != 1 || r["county-a"] != "county-a" {
		t.Errorf("routes = %v, want only county-a", r)
	}
	d, err := s.DeadLetters(10)
	if err != nil || len(d) != 1 || d[0].Reason != "unknown relay x" || string(d[0].Raw) != "raw" {
		t.Errorf("dead letters = %+v, %v", d, err)
	}
}

func TestSignalAfterCommit(t *testing.T) {
	s := open(t, t.TempDir())
	sig := s.Signal("client/x")
	s.Update(func(tx *Tx) error { _, err := tx.Enqueue("client/x", []byte("a")); return err })
	select {
	case <-sig:
	case <-time.After(5 * time.Second):
		t.Fatal("no signal after a commit added to the queue")
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a second Open of the same data_dir succeeded")
	}
}

func TestSignalWhenAddAndRemoveCancelOut(t *testing.T) {
	s := open(t, t.TempDir())
	s.Update(func(tx *Tx) error { _, err := tx.Enqueue("q", []byte("a")); return err })
	sig := s.Signal("q")
	select {
	case <-sig:
	default:
	}
	// One commit removes the old entry and adds a new one: depth unchanged.
	s.Update(func(tx *Tx) error {
		if err := tx.Remove("q", []uint64{1}); err != nil {
			return err
		}
		_, err := tx.Enqueue("q", []byte("b"))
		return err
	})
	select {
	case <-sig:
	case <-time.After(5 * time.Second):
		t.Fatal("no signal: a reader would never see the new entry")
	}
}

func TestRemoveLaterJoinsTheNextCommitOrRunsAlone(t *testing.T) {
	s := open(t, t.TempDir())
	for i := 0; i < 3; i++ {
		s.Update(func(tx *Tx) error { _, err := tx.Enqueue("q", []byte("x")); return err })
	}
	before := s.Stats().Commits
	s.RemoveLater("q", []uint64{1})
	s.Update(func(tx *Tx) error { _, err := tx.Enqueue("other", []byte("y")); return err })
	if got := s.Stats().Commits - before; got != 1 {
		t.Errorf("%d commits, want the removal to ride along with the one commit", got)
	}
	if d := s.Depths()["q"]; d != 2 {
		t.Errorf("depth = %d after the shared commit, want 2", d)
	}
	// Alone, a removal is committed after LazyDelay.
	s.RemoveLater("q", []uint64{2})
	deadline := time.Now().Add(5 * time.Second)
	for s.Depths()["q"] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("a lone removal was never committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Close commits what is pending.
	s.RemoveLater("q", []uint64{3})
	dir := s.db.Path()
	s.Close()
	s2 := open(t, filepath.Dir(dir))
	if d := s2.Depths()["q"]; d != 0 {
		t.Errorf("after close and reopen depth = %d, want 0", d)
	}
}

// After a commit that served many submissions, the writer gathers about as
// many before the next commit; after one that served a single submission
// it commits at once (with an hour's delay this test would hang otherwise).
func TestBusyWriterGathersAGroupIdleWriterDoesNot(t *testing.T) {
	s, err := Open(t.TempDir(), Options{GroupDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enqueue := func(tx *Tx) error { _, err := tx.Enqueue("q", []byte("x")); return err }
	if err := s.Update(enqueue); err != nil { // idle: last commit served none
		t.Fatal(err)
	}
	release, started := make(chan struct{}), make(chan struct{})
	first := s.Submit(func(tx *Tx) error { close(started); <-release; return nil })
	<-started // the writer is committing: the next seven queue up as one group
	var group []<-chan error
	for i := 0; i < 7; i++ {
		group = append(group, s.Submit(enqueue))
	}
	close(release)
	<-first
	for _, ch := range group {
		<-ch
	}
	before := s.Stats().Commits
	// The last commit served seven: the next commit waits for seven more,
	// arriving one at a time.
	var next []<-chan error
	for i := 0; i < 7; i++ {
		next = append(next, s.Submit(enqueue))
		time.Sleep(time.Millisecond)
	}
	for _, ch := range next {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Stats().Commits - before; got != 1 {
		t.Errorf("%d commits for 7 submissions on a busy store, want 1", got)
	}
}

func TestAuditChainDetectsTampering(t *testing.T) {
	s := open(t, t.TempDir())
	at := time.Now()
	for i := 0; i < 5; i++ {
		// The clock steps back once: order must still be the order of appending.
		when := at.Add(time.Duration(i) * time.Second)
		if i == 3 {
			when = at.Add(-time.Hour)
		}
		rec := []byte(fmt.Sprintf(`{"n":%d}`, i))
		if err := s.Update(func(tx *Tx) error { return tx.Audit(when, rec) }); err != nil {
			t.Fatal(err)
		}
	}
	var order []string
	s.AuditSince(time.Time{}, func(_ time.Time, rec []byte) bool { order = append(order, string(rec)); return true })
	if fmt.Sprint(order) != `[{"n":0} {"n":1} {"n":2} {"n":3} {"n":4}]` {
		t.Errorf("records in order %v", order)
	}
	res, err := audit.Verify(s.AuditLog)
	if err != nil || !res.OK || res.Records != 5 || len(res.Head) != 64 {
		t.Fatalf("intact log: %+v, %v", res, err)
	}
	// Change the third record's text, keeping its stored hash.
	s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		c.First()
		c.Next()
		k, v := c.Next()
		forged := append(bytes.Clone(v[:32]), []byte(`{"n":99}`)...)
		return tx.Bucket(bucketAudit).Put(bytes.Clone(k), forged)
	})
	if res, _ := audit.Verify(s.AuditLog); res.OK || res.Records != 2 {
		t.Errorf("changed record: %+v, want a broken chain after 2 good records", res)
	}
}

func TestAuditChainDetectsRemovedTail(t *testing.T) {
	s := open(t, t.TempDir())
	for i := 0; i < 3; i++ {
		s.Update(func(tx *Tx) error { return tx.Audit(time.Now(), []byte("r")) })
	}
	s.db.Update(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketAudit).Cursor().Last()
		return tx.Bucket(bucketAudit).Delete(bytes.Clone(k))
	})
	if res, _ := audit.Verify(s.AuditLog); res.OK {
		t.Errorf("removed last record: %+v, want not OK", res)
	}
}

// Several records in one commit, with a failing submission among them, and
// a reopened store continue one intact chain.
func TestAuditChainAcrossGroupedCommitsAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{ForwardInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// The first forwarded commit goes at once; the next ones wait for the
	// interval, so they share the commit the client submission ends.
	first := make(chan error, 1)
	s.SubmitForwarded(func(tx *Tx) error { return tx.Audit(time.Now(), []byte("r0")) }, func(err error) { first <- err })
	if err := waitErr(t, first, "first record"); err != nil {
		t.Fatal(err)
	}
	var chs []chan error
	for _, rec := range []string{"r1", "bad", "r2"} {
		ch := make(chan error, 1)
		chs = append(chs, ch)
		s.SubmitForwarded(func(tx *Tx) error {
			if err := tx.Audit(time.Now(), []byte(rec)); err != nil {
				return err
			}
			if rec == "bad" {
				return errors.New("refused after auditing")
			}
			return nil
		}, func(err error) { ch <- err })
	}
	if err := s.Update(func(tx *Tx) error { return tx.Audit(time.Now(), []byte("r3")) }); err != nil {
		t.Fatal(err)
	}
	for i, ch := range chs {
		if err := waitErr(t, ch, "grouped record"); (err != nil) != (i == 1) {
			t.Errorf("submission %d: %v", i, err)
		}
	}
	s.Close()
	s = open(t, dir)
	if err := s.Update(func(tx *Tx) error { return tx.Audit(time.Now(), []byte("r4")) }); err != nil {
		t.Fatal(err)
	}
	var recs []string
	s.AuditSince(time.Time{}, func(_ time.Time, rec []byte) bool { recs = append(recs, string(rec)); return true })
	if fmt.Sprint(recs) != "[r0 r1 r2 r3 r4]" {
		t.Errorf("records %v, want r0..r4 without the refused one", recs)
	}
	if res, err := audit.Verify(s.AuditLog); err != nil || !res.OK || res.Records != 5 {
		t.Errorf("chain: %+v, %v; want 5 intact records", res, err)
	}
}
