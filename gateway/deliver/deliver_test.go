package deliver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/gateway/config"
	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// fakeRelay serves objects from memory and records sent envelopes.
type fakeRelay struct {
	mu      sync.Mutex
	objects map[string][]byte
	sent    []relayconn.Message
	gets    int
}

func (f *fakeRelay) Send(_ context.Context, m relayconn.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeRelay) Download(_ context.Context, ref *pb.FileRef, path string) error {
	f.mu.Lock()
	b, ok := f.objects[ref.Key]
	f.gets++
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("file %q: %w", ref.Key, filestore.ErrNotFound)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != ref.Sha256 {
		return &filestore.ChecksumError{Name: ref.Key, Want: ref.Sha256, Got: got}
	}
	os.MkdirAll(filepath.Dir(path), 0o750)
	return os.WriteFile(path, b, 0o640)
}

func (f *fakeRelay) messages(command string) []relayconn.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []relayconn.Message
	for _, m := range f.sent {
		if m.Command == command {
			out = append(out, m)
		}
	}
	return out
}

// destination is a real C-STORE SCP; refuse answers a status per call.
type destination struct {
	mu     sync.Mutex
	got    map[string][][]byte // SOP instance UID → data sets received
	refuse func(sop string, n int) dimse.Status
}

func (d *destination) Store(_ context.Context, in *dimse.IncomingStore, data io.Reader) (dimse.Status, error) {
	b, err := io.ReadAll(data)
	if err != nil {
		return dimse.StatusOutOfResources, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refuse != nil {
		if st := d.refuse(in.SOPInstanceUID, len(d.got[in.SOPInstanceUID])); st != dimse.StatusSuccess {
			d.got[in.SOPInstanceUID+"/refused"] = append(d.got[in.SOPInstanceUID+"/refused"], nil)
			return st, fmt.Errorf("refused")
		}
	}
	d.got[in.SOPInstanceUID] = append(d.got[in.SOPInstanceUID], b)
	return dimse.StatusSuccess, nil
}

func (d *destination) count(sop string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got[sop])
}

type rig struct {
	t     *testing.T
	relay *fakeRelay
	dest  *destination
	d     *Deliverer
	db    *store.Store
	files map[string][]byte // SOP instance UID → data set
}

func newRig(t *testing.T, refuse func(string, int) dimse.Status) *rig {
	dest := &destination{got: map[string][][]byte{}, refuse: refuse}
	srv := dimse.NewServer(dimse.ServerOptions{AETitle: "VIEWER", Store: dest, AcceptSOPClass: func(string) bool { return true }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := &config.Config{ID: "gw-b", DICOM: config.DICOM{AET: config.AETList{"GW_B"}},
		Peers:   []config.Peer{{AET: "VIEWER", Host: "127.0.0.1", Port: port}},
		Deliver: config.Deliver{DefaultDestination: "VIEWER", Attempts: 3, MaxBackoff: 20 * time.Millisecond, RequestTimeout: 5 * time.Second}}
	cfg.Defaults()
	r := &rig{t: t, relay: &fakeRelay{objects: map[string][]byte{}}, dest: dest, db: db, files: map[string][]byte{}}
	r.d = New(Options{Store: db, Relay: r.relay, Config: cfg, Dir: filepath.Join(dir, "incoming")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// instance makes a Part 10 object of a CT instance, uploads it to the
// fake storage under the sender's prefix and returns its manifest entry.
func (r *rig) instance(study string, n, variant int) manifest.Instance {
	sop := fmt.Sprintf("%s.1.%d", study, n)
	ds, err := dicom.Encode(dicom.NewDataSet(
		dicom.NewString(dicom.SOPClassUIDTag, dicom.UI, dicom.CTImageStorage),
		dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI, sop),
		dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, study),
		&dicom.Element{Tag: dicom.PixelDataTag, VR: dicom.OW, Value: []byte{byte(variant), 1, 2, 3}},
	), dicom.ExplicitVRLittleEndian)
	if err != nil {
		r.t.Fatal(err)
	}
	var part10 bytes.Buffer
	dicom.WriteFileHeader(&part10, dicom.FileMeta{MediaStorageSOPClassUID: dicom.CTImageStorage, MediaStorageSOPInstanceUID: sop,
		TransferSyntaxUID: dicom.ExplicitVRLittleEndian})
	part10.Write(ds)
	sum := sha256.Sum256(part10.Bytes())
	sha := hex.EncodeToString(sum[:])
	key := manifest.ObjectKey("county-a", "gw-a", study, sop, sha)
	r.relay.mu.Lock()
	r.relay.objects[key] = part10.Bytes()
	r.relay.mu.Unlock()
	r.files[sop] = ds
	return manifest.Instance{SOPClassUID: dicom.CTImageStorage, SOPInstanceUID: sop, SeriesUID: study + ".1",
		TransferSyntax: dicom.ExplicitVRLittleEndian, Size: int64(part10.Len()), SHA256: sha, Key: key}
}

func (r *rig) announce(m manifest.Manifest) string {
	r.t.Helper()
	m.Store = "main"
	m.Series = map[string]int{m.StudyUID + ".1": len(m.Instances)}
	body, _ := json.Marshal(m)
	env := &pb.Envelope{Id: relayconn.NewID(), From: &pb.Address{Relay: "county-a", Client: "gw-a"}, Command: manifest.Available,
		Args: map[string]string{"study_uid": m.StudyUID}, Body: body}
	if err := r.d.HandleAvailable(context.Background(), env); err != nil {
		r.t.Fatal(err)
	}
	return env.Id
}

// receipt waits for the n-th study.received and decodes it.
func (r *rig) receipt(n int) (manifest.Receipt, relayconn.Message) {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if msgs := r.relay.messages(manifest.Received); len(msgs) >= n {
			var rc manifest.Receipt
			if err := json.Unmarshal(msgs[n-1].Body, &rc); err != nil {
				r.t.Fatal(err)
			}
			return rc, msgs[n-1]
		}
		if time.Now().After(deadline) {
			var trs []string
			r.db.View(func(tx *store.Tx) error {
				return tx.Transfers(func(tr *store.Transfer) error { trs = append(trs, fmt.Sprintf("%+v", *tr)); return nil })
			})
			r.t.Fatalf("no receipt %d; transfers %v", n, trs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeliverStoresEveryInstanceAndAcknowledges(t *testing.T) {
	r := newRig(t, nil)
	m := manifest.Manifest{StudyUID: "1.2.9", Round: 1}
	for i := 1; i <= 6; i++ {
		m.Instances = append(m.Instances, r.instance("1.2.9", i, 0))
	}
	id := r.announce(m)
	rc, msg := r.receipt(1)
	if rc.Instances != 6 || rc.Stored != 6 || rc.Failed != 0 || rc.Destination != "VIEWER" || msg.To != "county-a/gw-a" || msg.Correlation != id {
		t.Fatalf("receipt %+v to %s (correlation %s)", rc, msg.To, msg.Correlation)
	}
	for sop, ds := range r.files {
		if got := r.dest.got[sop]; len(got) != 1 || !bytes.Equal(got[0], ds) {
			t.Errorf("instance %s: %d copies at the destination, want 1 with the data set as sent", sop, len(got))
		}
	}
	// The same study announced again (a new round): nothing is sent again.
	gets := r.relay.gets
	m.Round = 2
	r.announce(m)
	rc, _ = r.receipt(2)
	if rc.AlreadyPresent != 6 || rc.Stored != 0 || r.relay.gets != gets {
		t.Errorf("again: receipt %+v, %d downloads; want all already present and no download", rc, r.relay.gets-gets)
	}
	// One instance changed: it alone is delivered, as a new version.
	m.Round = 3
	m.Instances[2] = r.instance("1.2.9", 3, 9)
	r.announce(m)
	rc, _ = r.receipt(3)
	if rc.Stored != 1 || rc.AlreadyPresent != 5 || len(rc.NewVersions) != 1 || rc.NewVersions[0] != "1.2.9.1.3" || r.dest.count("1.2.9.1.3") != 2 {
		t.Errorf("one changed: receipt %+v, %d copies of it; want it stored as a new version", rc, r.dest.count("1.2.9.1.3"))
	}
}

func TestBadObjectsFailVisibly(t *testing.T) {
	r := newRig(t, nil)
	good := r.instance("1.2.10", 1, 0)
	mismatch := r.instance("1.2.10", 2, 0)
	mismatch.SHA256 = strings.Repeat("ab", 32) // the manifest does not match its object
	foreign := r.instance("1.2.10", 3, 0)
	foreign.Key = "county-c/gw-c/studies/1.2.10/x.dcm" // not the announcing gateway's
	r.announce(manifest.Manifest{StudyUID: "1.2.10", Round: 1, Instances: []manifest.Instance{good, mismatch, foreign}})
	rc, _ := r.receipt(1)
	if rc.Stored != 1 || rc.Failed != 2 {
		t.Fatalf("receipt %+v, want 1 stored and 2 failed", rc)
	}
	steps := map[string]string{}
	for _, f := range rc.Failures {
		steps[f.SOPInstanceUID] = f.Step + ": " + f.Reason
	}
	if !strings.HasPrefix(steps["1.2.10.1.2"], "verify") || !strings.HasPrefix(steps["1.2.10.1.3"], "verify") {
		t.Errorf("failures %v, want both at step verify with the reason", steps)
	}
	if r.dest.count("1.2.10.1.2")+r.dest.count("1.2.10.1.3") != 0 {
		t.Error("a bad instance reached the destination")
	}
	// The receipt goes out before the transfer records its final state:
	// wait for that state.
	var tr *store.Transfer
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r.db.View(func(tx *store.Tx) error { tr, _ = tx.Transfer(store.Incoming, "1.2.10", "county-a/gw-a"); return nil })
		if tr.State == store.Failed || time.Now().After(deadline) {
			break
		}
	}
	if tr.State != store.Failed || tr.Failed != 2 || !strings.Contains(tr.Error, "2 instance(s) not delivered") {
		t.Errorf("transfer %+v, want failed with 2 failures", tr)
	}
}

func TestRefusedInstanceIsRetriedThenReported(t *testing.T) {
	first := true
	r := newRig(t, func(sop string, _ int) dimse.Status {
		switch {
		case sop == "1.2.11.1.1" && first: // refused once, then accepted
			first = false
			return 0xA700
		case sop == "1.2.11.1.2": // always refused
			return 0xA700
		}
		return dimse.StatusSuccess
	})
	r.announce(manifest.Manifest{StudyUID: "1.2.11", Round: 1, Instances: []manifest.Instance{r.instance("1.2.11", 1, 0), r.instance("1.2.11", 2, 0)}})
	rc, _ := r.receipt(1)
	if rc.Stored != 1 || rc.Failed != 1 || rc.Failures[0].SOPInstanceUID != "1.2.11.1.2" || rc.Failures[0].Status != "A700" {
		t.Fatalf("receipt %+v, want 1 stored after a retry and 1 failed with status A700", rc)
	}
	if n := r.dest.count("1.2.11.1.2/refused"); n != 3 {
		t.Errorf("the refused instance was tried %d times, want deliver.attempts = 3", n)
	}
}

func TestMissingInstancesAreAskedForAgain(t *testing.T) {
	r := newRig(t, nil)
	a, b := r.instance("1.2.12", 1, 0), r.instance("1.2.12", 2, 0)
	b.Key = "" // the sender believes the destination has it; it does not
	r.announce(manifest.Manifest{StudyUID: "1.2.12", Round: 1, Instances: []manifest.Instance{a, b}})
	deadline := time.Now().Add(10 * time.Second)
	for len(r.relay.messages(manifest.Request)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no study.request for the missing instance")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var rq manifest.RequestBody
	json.Unmarshal(r.relay.messages(manifest.Request)[0].Body, &rq)
	if len(rq.Instances) != 1 || rq.Instances[0] != "1.2.12.1.2" {
		t.Fatalf("request %+v, want only the missing instance", rq)
	}
	if len(r.relay.messages(manifest.Received)) != 0 {
		t.Fatal("a receipt was sent before the missing instance came")
	}
	b2 := r.instance("1.2.12", 2, 0)
	r.announce(manifest.Manifest{StudyUID: "1.2.12", Round: 1, Supplement: true, Instances: []manifest.Instance{b2}})
	rc, _ := r.receipt(1)
	if rc.Stored != 2 || rc.Failed != 0 {
		t.Errorf("receipt %+v, want both stored", rc)
	}
}

func TestPartialAnnouncesAreDeliveredBeforeTheWholeManifest(t *testing.T) {
	r := newRig(t, nil)
	var all []manifest.Instance
	for i := 1; i <= 4; i++ {
		all = append(all, r.instance("1.2.13", i, 0))
	}
	r.announce(manifest.Manifest{StudyUID: "1.2.13", Round: 1, Partial: true, Instances: all[:2]})
	deadline := time.Now().Add(10 * time.Second)
	for r.dest.count("1.2.13.1.1")+r.dest.count("1.2.13.1.2") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("instances of a partial announce were not delivered while the study still arrives")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(r.relay.messages(manifest.Received)); n != 0 {
		t.Fatalf("%d receipts before the whole manifest came", n)
	}
	r.announce(manifest.Manifest{StudyUID: "1.2.13", Round: 1, Instances: all})
	rc, _ := r.receipt(1)
	if rc.Instances != 4 || rc.Stored != 4 {
		t.Errorf("receipt %+v, want 4 stored", rc)
	}
	for _, in := range all {
		if n := r.dest.count(in.SOPInstanceUID); n != 1 {
			t.Errorf("instance %s delivered %d times, want once", in.SOPInstanceUID, n)
		}
	}
}
