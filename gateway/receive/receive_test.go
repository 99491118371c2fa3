package receive

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/gateway/store"
)

// dataSet encodes a small instance of study with the given SOP instance UID.
func dataSet(t testing.TB, study, sop string, extra int) []byte {
	t.Helper()
	b, err := dicom.Encode(dicom.NewDataSet(
		dicom.NewString(dicom.SOPClassUIDTag, dicom.UI, dicom.CTImageStorage),
		dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI, sop),
		dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x0060}, dicom.CS, "CT"),
		dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, study),
		dicom.NewString(dicom.SeriesInstanceUIDTag, dicom.UI, study+".1"),
		&dicom.Element{Tag: dicom.PixelDataTag, VR: dicom.OW, Value: make([]byte, extra)},
	), dicom.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newReceiver(t testing.TB, route RouteFunc) (*Receiver, *store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if route == nil {
		route = func(*dimse.IncomingStore, string, string) (Target, bool) {
			return Target{Peer: "county-b/gw-b", Destination: "VIEWER"}, true
		}
	}
	r, err := New(Options{Dir: filepath.Join(dir, "staged"), Store: db, Route: route, NoSync: os.Getenv("NOSYNC") != ""})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, db, filepath.Join(dir, "staged")
}

func incoming(sop string) *dimse.IncomingStore {
	return &dimse.IncomingStore{CallingAE: "CT", CalledAE: "GW", SOPClassUID: dicom.CTImageStorage, SOPInstanceUID: sop,
		TransferSyntax: dicom.ExplicitVRLittleEndian, AssocID: 1}
}

func BenchmarkStore(b *testing.B) {
	r, _, _ := newReceiver(b, nil)
	ds := make([][]byte, b.N)
	for i := range ds {
		ds[i] = dataSet(b, "1.2.3", fmt.Sprintf("1.2.3.1.%d", i), 12<<10)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		st, err := r.Store(context.Background(), incoming(fmt.Sprintf("1.2.3.1.%d", i)), bytes.NewReader(ds[i]))
		if err != nil || st != dimse.StatusSuccess {
			b.Fatal(st, err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "us/instance")
	_ = os.Remove
}

func TestStoreRecordsInstanceBeforeSuccess(t *testing.T) {
	r, db, dir := newReceiver(t, nil)
	data := dataSet(t, "1.2.3", "1.2.3.1.1", 1000)
	st, err := r.Store(context.Background(), incoming("1.2.3.1.1"), bytes.NewReader(data))
	if err != nil || st != dimse.StatusSuccess {
		t.Fatalf("Store: status %v, err %v; want success", st, err)
	}
	var tr *store.Transfer
	var in *store.Instance
	db.View(func(tx *store.Tx) error {
		tr, err = tx.Transfer(store.Outgoing, "1.2.3", "county-b/gw-b")
		if err == nil {
			in, err = tx.Instance(tr, "1.2.3.1.1")
		}
		return err
	})
	if err != nil {
		t.Fatalf("record after success: %v", err)
	}
	if tr.State != store.Receiving || tr.Instances != 1 || tr.Destination != "VIEWER" {
		t.Errorf("transfer: got %+v, want receiving, 1 instance, destination VIEWER", tr)
	}
	if in.SeriesUID != "1.2.3.1" || in.Modality != "CT" || in.SOPClassUID != dicom.CTImageStorage || in.State != store.IPending {
		t.Errorf("instance index: got %+v", in)
	}
	f, err := os.Open(in.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, rest, err := dicom.ReadFileMeta(f)
	if err != nil {
		t.Fatal(err)
	}
	got := new(bytes.Buffer)
	got.ReadFrom(rest)
	if meta.TransferSyntaxUID != dicom.ExplicitVRLittleEndian || !bytes.Equal(got.Bytes(), data) {
		t.Errorf("staged file: transfer syntax %s, data set equal %v; want the data set as received", meta.TransferSyntaxUID, bytes.Equal(got.Bytes(), data))
	}
	if filepath.Dir(in.Path) != dir {
		t.Errorf("staged in %s, want %s", in.Path, dir)
	}
}

func TestMalformedInstanceIsRefusedAndLeavesNothing(t *testing.T) {
	good := dataSet(t, "1.2.3", "1.2.3.1.1", 10)
	cases := []struct {
		name string
		sop  string
		data []byte
		want dimse.Status
	}{
		{"garbage", "1.2.3.1.1", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x01}, 40), dimse.StatusCannotUnderstand},
		{"truncated", "1.2.3.1.1", good[:40], dimse.StatusCannotUnderstand},
		{"other instance UID", "1.2.3.1.9", good, dimse.StatusDataSetMismatch},
		{"invalid UID", "1.2.3.x", good, dimse.StatusCannotUnderstand},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, db, dir := newReceiver(t, nil)
			st, err := r.Store(context.Background(), incoming(c.sop), bytes.NewReader(c.data))
			if st != c.want || err == nil {
				t.Errorf("status %v (err %v), want %v with an error", st, err, c.want)
			}
			n := 0
			db.View(func(tx *store.Tx) error { return tx.Transfers(func(*store.Transfer) error { n++; return nil }) })
			r.Close()
			files, _ := os.ReadDir(dir)
			if n != 0 || len(files) != 0 {
				t.Errorf("after a refused instance: %d transfers, %d staged files; want none", n, len(files))
			}
		})
	}
}

func TestResentInstanceReplacesAndNewRoundReopens(t *testing.T) {
	r, db, dir := newReceiver(t, nil)
	ctx := context.Background()
	v1 := dataSet(t, "1.2.3", "1.2.3.1.1", 10)
	v2 := dataSet(t, "1.2.3", "1.2.3.1.1", 12)
	for _, d := range [][]byte{v1, v1, v2} {
		if st, err := r.Store(ctx, incoming("1.2.3.1.1"), bytes.NewReader(d)); st != dimse.StatusSuccess {
			t.Fatal(st, err)
		}
	}
	r.Close()
	files, _ := os.ReadDir(dir)
	var tr *store.Transfer
	var in *store.Instance
	db.View(func(tx *store.Tx) error {
		tr, _ = tx.Transfer(store.Outgoing, "1.2.3", "county-b/gw-b")
		in, _ = tx.Instance(tr, "1.2.3.1.1")
		return nil
	})
	if len(files) != 1 || tr.Instances != 1 || !in.NewVersion {
		t.Errorf("after resends: %d staged files, %d instances, new version %v; want 1, 1, true", len(files), tr.Instances, in.NewVersion)
	}
	db.Update(func(tx *store.Tx) error {
		tr.State = store.Acknowledged
		return tx.PutTransfer(tr)
	})
	r.Store(ctx, incoming("1.2.3.1.2"), bytes.NewReader(dataSet(t, "1.2.3", "1.2.3.1.2", 10)))
	db.View(func(tx *store.Tx) error {
		tr, _ = tx.Transfer(store.Outgoing, "1.2.3", "county-b/gw-b")
		return nil
	})
	if tr.State != store.Receiving || tr.Round != 2 || tr.Instances != 2 {
		t.Errorf("after an instance for an acknowledged study: state %s round %d instances %d; want receiving, 2, 2", tr.State, tr.Round, tr.Instances)
	}
}

func TestCompleteOnRelease(t *testing.T) {
	route := func(*dimse.IncomingStore, string, string) (Target, bool) {
		return Target{Peer: "county-b/gw-b", CompleteOnRelease: true}, true
	}
	r, db, _ := newReceiver(t, route)
	r.Store(context.Background(), incoming("1.2.3.1.1"), bytes.NewReader(dataSet(t, "1.2.3", "1.2.3.1.1", 10)))
	if r.AssocEnded(dimse.Event{AssocID: 1, Err: fmt.Errorf("aborted")}) {
		t.Error("an aborted association completed the study")
	}
	r.Store(context.Background(), incoming("1.2.3.1.2"), bytes.NewReader(dataSet(t, "1.2.3", "1.2.3.1.2", 10)))
	if !r.AssocEnded(dimse.Event{AssocID: 1}) {
		t.Error("a released association did not complete the study")
	}
	var tr *store.Transfer
	db.View(func(tx *store.Tx) error {
		tr, _ = tx.Transfer(store.Outgoing, "1.2.3", "county-b/gw-b")
		return nil
	})
	if tr.State != store.Complete {
		t.Errorf("state %s, want complete", tr.State)
	}
}

func TestRestartRemovesUnrecordedStagedFiles(t *testing.T) {
	r, db, dir := newReceiver(t, nil)
	r.Store(context.Background(), incoming("1.2.3.1.1"), bytes.NewReader(dataSet(t, "1.2.3", "1.2.3.1.1", 10)))
	orphan := filepath.Join(dir, "s-cutshort.dcm") // an instance a crash cut short
	if err := os.WriteFile(orphan, []byte("partial"), 0o640); err != nil {
		t.Fatal(err)
	}
	r2, err := New(Options{Dir: dir, Store: db, Route: r.opts.Route})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan staged file still there after a restart (err %v)", err)
	}
	var in *store.Instance
	db.View(func(tx *store.Tx) error {
		tr, _ := tx.Transfer(store.Outgoing, "1.2.3", "county-b/gw-b")
		in, _ = tx.Instance(tr, "1.2.3.1.1")
		return nil
	})
	if _, err := os.Stat(in.Path); err != nil {
		t.Errorf("the recorded instance's file is gone after a restart: %v", err)
	}
}

func TestInstanceBeforeTheFinalAnnounceKeepsTheRound(t *testing.T) {
	r, db, _ := newReceiver(t, nil)
	ctx := context.Background()
	r.Store(ctx, incoming("1.2.3.1.1"), bytes.NewReader(dataSet(t, "1.2.3", "1.2.3.1.1", 10)))
	get := func() *store.Transfer {
		var tr *store.Transfer
		db.View(func(tx *store.Tx) error { tr, _ = tx.Transfer(store.Outgoing, "1.2.3", "county-b/gw-b"); return nil })
		return tr
	}
	tr := get()
	tr.State = store.Uploading // complete, uploading, not announced yet
	db.Update(func(tx *store.Tx) error { return tx.PutTransfer(tr) })
	r.Store(ctx, incoming("1.2.3.1.2"), bytes.NewReader(dataSet(t, "1.2.3", "1.2.3.1.2", 10)))
	if tr = get(); tr.State != store.Receiving || tr.Round != 1 {
		t.Errorf("a late instance before the final announce: state %s round %d, want receiving in round 1", tr.State, tr.Round)
	}
	tr.State, tr.AnnounceID = store.Uploading, "01a22a2e-0000-7000-8000-000000000000" // the final announce may be out
	db.Update(func(tx *store.Tx) error { return tx.PutTransfer(tr) })
	r.Store(ctx, incoming("1.2.3.1.3"), bytes.NewReader(dataSet(t, "1.2.3", "1.2.3.1.3", 10)))
	if tr = get(); tr.State != store.Receiving || tr.Round != 2 || tr.AnnounceID != "" {
		t.Errorf("a late instance after the final announce: state %s round %d, want receiving in round 2", tr.State, tr.Round)
	}
}
