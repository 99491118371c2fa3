package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestCommitGroupsAndIsolatesFailures(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Commit(func(tx *Tx) error {
				if i%10 == 3 {
					return fmt.Errorf("refused %d", i)
				}
				return tx.PutTransfer(&Transfer{Side: Outgoing, StudyUID: fmt.Sprint("1.", i), Peer: "r/c"})
			})
		}()
	}
	wg.Wait()
	n := 0
	s.View(func(tx *Tx) error { return tx.Transfers(func(*Transfer) error { n++; return nil }) })
	for i, err := range errs {
		if (i%10 == 3) != (err != nil) {
			t.Errorf("call %d: err %v", i, err)
		}
	}
	if n != 45 {
		t.Errorf("%d transfers committed, want 45 (the 5 failing calls change nothing)", n)
	}
}

func TestReopenKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr := &Transfer{Side: Incoming, StudyUID: "1.2", Peer: "a/b", State: Storing}
	s.Update(func(tx *Tx) error {
		tx.PutTransfer(tr)
		tx.SetDelivered("VIEWER", "1.2.3", "abc")
		return tx.PutInstance(tr, &Instance{SOPInstanceUID: "1.2.3", State: IDownloaded})
	})
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(func(tx *Tx) error {
		got, err := tx.Transfer(Incoming, "1.2", "a/b")
		if err != nil || got.State != Storing {
			t.Errorf("transfer after reopen: %+v %v", got, err)
		}
		in, err := tx.Instance(got, "1.2.3")
		if err != nil || in.State != IDownloaded || tx.Delivered("VIEWER", "1.2.3") != "abc" {
			t.Errorf("instance after reopen: %+v %v", in, err)
		}
		if _, err := tx.Transfer(Incoming, "1.2", "x/y"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing transfer: %v, want ErrNotFound", err)
		}
		return nil
	})
}
