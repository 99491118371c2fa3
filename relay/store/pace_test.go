package store

import (
	"errors"
	"testing"
	"time"
)

// waitErr waits for a completion without asserting how fast it came: the
// bound only turns a hang into a failure.
func waitErr(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never completed", what)
		return nil
	}
}

func enqueueForwarded(s *Store, queue string) <-chan error {
	ch := make(chan error, 1)
	s.SubmitForwarded(func(tx *Tx) error {
		_, err := tx.Enqueue(queue, []byte("fwd"))
		return err
	}, func(err error) { ch <- err })
	return ch
}

// Forwarded traffic waits for the interval, and shares the commit it
// finally gets; a submission a client waits on ends the wait at once.
func TestForwardedTrafficIsPacedUntilAClientWaits(t *testing.T) {
	s, err := Open(t.TempDir(), Options{ForwardInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// No commit yet: the first one does not wait.
	if err := waitErr(t, enqueueForwarded(s, "parent"), "first forwarded batch"); err != nil {
		t.Fatal(err)
	}
	a, b := enqueueForwarded(s, "parent"), enqueueForwarded(s, "parent")
	select {
	case <-a:
		t.Fatal("a forwarded batch was committed within the interval of the previous commit")
	case <-time.After(50 * time.Millisecond):
	}
	client := s.Submit(func(tx *Tx) error { _, err := tx.Enqueue("client/x", []byte("c")); return err })
	for what, ch := range map[string]<-chan error{"client submission": client, "forwarded a": a, "forwarded b": b} {
		if err := waitErr(t, ch, what); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	st := s.Stats()
	if st.Commits != 2 || st.Submissions != 4 {
		t.Errorf("commits %d for %d submissions, want the three waiting ones in one commit after the first", st.Commits, st.Submissions)
	}
	if d := s.Depths()["parent"]; d != 3 {
		t.Errorf("parent queue depth %d, want 3", d)
	}
}

func TestSubmitThenReportsTheCommitOrTheError(t *testing.T) {
	s := open(t, t.TempDir())
	boom := errors.New("boom")
	ok, failed := make(chan error, 1), make(chan error, 1)
	s.SubmitThen(func(tx *Tx) error { _, err := tx.Enqueue("q", []byte("x")); return err }, func(err error) { ok <- err })
	s.SubmitThen(func(tx *Tx) error { return boom }, func(err error) { failed <- err })
	if err := waitErr(t, ok, "good submission"); err != nil {
		t.Errorf("good submission: %v", err)
	}
	if err := waitErr(t, failed, "failing submission"); !errors.Is(err, boom) {
		t.Errorf("failing submission got %v, want %v", err, boom)
	}
	got, err := s.Read("q", 0, 10, 1<<20)
	if err != nil || len(got) != 1 {
		t.Errorf("queue holds %v (%v), want the good entry alone", got, err)
	}
	s.Close()
	closed := make(chan error, 1)
	s.SubmitThen(func(tx *Tx) error { return nil }, func(err error) { closed <- err })
	if err := waitErr(t, closed, "submission after Close"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close got %v, want ErrClosed", err)
	}
}
