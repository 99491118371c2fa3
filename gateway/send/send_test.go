package send

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/receive"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// fakeRelay keeps uploaded objects in memory and records sent envelopes
// (a fake of the relay connection: the pipelines' own logic is real).
type fakeRelay struct {
	mu      sync.Mutex
	objects map[string][]byte
	deleted []string
	sent    []relayconn.Message
	uploads int
}

func newFakeRelay() *fakeRelay { return &fakeRelay{objects: map[string][]byte{}} }

func (f *fakeRelay) Self() (string, string) { return "county-a", "gw-a" }

func (f *fakeRelay) Send(_ context.Context, m relayconn.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeRelay) Upload(_ context.Context, path, key, mt string) (*pb.FileRef, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[key] = b
	f.uploads++
	return &pb.FileRef{Store: "main", Key: key, Size: int64(len(b)), Sha256: hex.EncodeToString(sum[:]), MediaType: mt}, nil
}

func (f *fakeRelay) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, key)
	f.deleted = append(f.deleted, key)
	return nil
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

type rig struct {
	t     *testing.T
	db    *store.Store
	recv  *receive.Receiver
	relay *fakeRelay
	snd   *Sender
}

func newRig(t *testing.T) *rig {
	dir := t.TempDir()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	route := func(*dimse.IncomingStore, string, string) (receive.Target, bool) {
		return receive.Target{Peer: "county-b/gw-b", Destination: "VIEWER"}, true
	}
	recv, err := receive.New(receive.Options{Dir: filepath.Join(dir, "staged"), Store: db, Route: route, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(recv.Close)
	r := &rig{t: t, db: db, recv: recv, relay: newFakeRelay()}
	r.snd = New(Options{Store: db, Relay: r.relay, StableAfter: 400 * time.Millisecond, ManifestDir: filepath.Join(dir, "manifests")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.snd.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// storeStudy C-STOREs n instances of study through the receiver; variant
// changes the pixel data of instance `changed`.
func (r *rig) storeStudy(study string, n, changed, variant int) {
	for i := 1; i <= n; i++ {
		sop := fmt.Sprintf("%s.1.%d", study, i)
		px := make([]byte, 64)
		if i == changed {
			px[0] = byte(variant)
		}
		b, err := dicom.Encode(dicom.NewDataSet(
			dicom.NewString(dicom.SOPClassUIDTag, dicom.UI, dicom.CTImageStorage),
			dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI, sop),
			dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, study),
			dicom.NewString(dicom.SeriesInstanceUIDTag, dicom.UI, study+".1"),
			&dicom.Element{Tag: dicom.PixelDataTag, VR: dicom.OW, Value: px},
		), dicom.ExplicitVRLittleEndian)
		if err != nil {
			r.t.Fatal(err)
		}
		in := &dimse.IncomingStore{CallingAE: "CT", CalledAE: "GW", SOPClassUID: dicom.CTImageStorage, SOPInstanceUID: sop,
			TransferSyntax: dicom.ExplicitVRLittleEndian, AssocID: 1}
		if st, err := r.recv.Store(context.Background(), in, bytes.NewReader(b)); st != dimse.StatusSuccess {
			r.t.Fatalf("store %s: %v %v", sop, st, err)
		}
	}
	r.snd.Kick()
}

func (r *rig) transfer(study string) *store.Transfer {
	var tr *store.Transfer
	r.db.View(func(tx *store.Tx) error {
		tr, _ = tx.Transfer(store.Outgoing, study, "county-b/gw-b")
		return nil
	})
	return tr
}

func (r *rig) waitState(study, state string) *store.Transfer {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tr := r.transfer(study)
		if tr != nil && tr.State == state {
			return tr
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("transfer of %s: %+v, want state %s", study, tr, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// announced returns the manifest of the n-th study.available.
func (r *rig) announced(n int) *manifest.Manifest {
	r.t.Helper()
	msgs := r.relay.messages(manifest.Available)
	if len(msgs) < n {
		r.t.Fatalf("%d study.available sent, want at least %d", len(msgs), n)
	}
	m, err := manifest.Decode(msgs[n-1].Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *rig) receipt(study string, round, stored, present int, failures ...manifest.Failure) {
	body, _ := json.Marshal(manifest.Receipt{StudyUID: study, Round: round, Destination: "VIEWER", Instances: stored + present + len(failures),
		Stored: stored, AlreadyPresent: present, Failed: len(failures), Failures: failures})
	env := &pb.Envelope{Id: relayconn.NewID(), From: &pb.Address{Relay: "county-b", Client: "gw-b"}, Command: manifest.Received, Body: body}
	if err := r.snd.HandleReceipt(context.Background(), env); err != nil {
		r.t.Fatal(err)
	}
}

func TestStudyIsAnnouncedWithEveryInstanceUploaded(t *testing.T) {
	r := newRig(t)
	r.storeStudy("1.2.5", 5, 0, 0)
	tr := r.waitState("1.2.5", store.Announced)
	m := r.announced(1)
	if len(m.Instances) != 5 || m.Series["1.2.5.1"] != 5 || m.Round != 1 || m.Destination != "VIEWER" || m.Store != "main" {
		t.Fatalf("manifest: %+v", m)
	}
	for _, in := range m.Instances {
		obj := r.relay.objects[in.Key]
		sum := sha256.Sum256(obj)
		if !strings.HasPrefix(in.Key, "county-a/gw-a/studies/1.2.5/"+in.SOPInstanceUID+".") || hex.EncodeToString(sum[:]) != in.SHA256 || int64(len(obj)) != in.Size {
			t.Errorf("instance %s: key %s, object of %d bytes does not match the manifest", in.SOPInstanceUID, in.Key, len(obj))
		}
	}
	if tr.Uploaded != 5 || tr.AnnounceID != r.relay.messages(manifest.Available)[0].ID {
		t.Errorf("transfer: %+v", tr)
	}

	// The receipt acknowledges the transfer and cleans up.
	r.receipt("1.2.5", 1, 5, 0)
	tr = r.waitState("1.2.5", store.Acknowledged)
	if tr.Stored != 5 {
		t.Errorf("after the receipt: %+v", tr)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !r.transfer("1.2.5").Cleaned && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(r.relay.objects) != 0 || len(r.relay.deleted) != 5 {
		t.Errorf("after cleanup: %d objects left, %d deleted; want 0 and 5", len(r.relay.objects), len(r.relay.deleted))
	}
}

func TestResentStudyUploadsOnlyWhatChanged(t *testing.T) {
	r := newRig(t)
	r.storeStudy("1.2.6", 4, 0, 0)
	r.waitState("1.2.6", store.Announced)
	r.receipt("1.2.6", 1, 4, 0)
	r.waitState("1.2.6", store.Acknowledged)
	before := r.relay.uploads

	// The same study again: nothing travels.
	r.storeStudy("1.2.6", 4, 0, 0)
	r.waitState("1.2.6", store.Announced)
	m := r.announced(2)
	if r.relay.uploads != before || m.Round != 2 {
		t.Fatalf("same study again: %d uploads (want 0), round %d", r.relay.uploads-before, m.Round)
	}
	for _, in := range m.Instances {
		if in.Key != "" {
			t.Errorf("instance %s announced with an object although the destination has it", in.SOPInstanceUID)
		}
	}
	r.receipt("1.2.6", 2, 0, 4)
	r.waitState("1.2.6", store.Acknowledged)

	// One changed instance: exactly that one travels.
	r.storeStudy("1.2.6", 4, 3, 7)
	r.waitState("1.2.6", store.Announced)
	m = r.announced(3)
	var keyed []string
	for _, in := range m.Instances {
		if in.Key != "" {
			keyed = append(keyed, in.SOPInstanceUID)
		}
	}
	if r.relay.uploads != before+1 || len(keyed) != 1 || keyed[0] != "1.2.6.1.3" {
		t.Errorf("one changed instance: %d uploads, announced with objects %v; want 1 upload of 1.2.6.1.3", r.relay.uploads-before, keyed)
	}
}

func TestReceiptWithFailuresAndStaleReceipts(t *testing.T) {
	r := newRig(t)
	r.storeStudy("1.2.7", 3, 0, 0)
	r.waitState("1.2.7", store.Announced)
	r.receipt("1.2.7", 9, 3, 0) // another round's receipt changes nothing
	if tr := r.transfer("1.2.7"); tr.State != store.Announced {
		t.Fatalf("a receipt for round 9 changed the transfer: %+v", tr)
	}
	r.receipt("1.2.7", 1, 2, 0, manifest.Failure{SOPInstanceUID: "1.2.7.1.2", Status: "A700", Reason: "out of resources", Step: "store"})
	tr := r.waitState("1.2.7", store.Failed)
	if tr.Failed != 1 || !strings.Contains(tr.Error, "1.2.7.1.2") || !strings.Contains(tr.Error, "A700") {
		t.Errorf("failed transfer: %+v; want the failure with instance and status in error", tr)
	}
	// The failed instance is not remembered as delivered: sent again, it travels.
	before := r.relay.uploads
	r.storeStudy("1.2.7", 3, 0, 0)
	r.waitState("1.2.7", store.Announced)
	if got := r.relay.uploads - before; got != 1 {
		t.Errorf("after a failure, the study again uploaded %d instances, want 1 (the failed one)", got)
	}
}

func TestRequestIsAnsweredWithASupplement(t *testing.T) {
	r := newRig(t)
	r.storeStudy("1.2.8", 2, 0, 0)
	r.waitState("1.2.8", store.Announced)
	body, _ := json.Marshal(manifest.RequestBody{StudyUID: "1.2.8", Round: 1, Instances: []string{"1.2.8.1.2", "1.2.8.1.99"}})
	env := &pb.Envelope{Id: relayconn.NewID(), From: &pb.Address{Relay: "county-b", Client: "gw-b"}, Command: manifest.Request, Body: body}
	if err := r.snd.HandleRequest(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	m := r.announced(2)
	if !m.Supplement || len(m.Instances) != 1 || m.Instances[0].SOPInstanceUID != "1.2.8.1.2" || m.Instances[0].Key == "" ||
		len(m.Unavailable) != 1 || m.Unavailable[0].SOPInstanceUID != "1.2.8.1.99" {
		t.Errorf("supplement: %+v", m)
	}
	if msgs := r.relay.messages(manifest.Available); msgs[1].Correlation != env.Id {
		t.Errorf("supplement correlation %q, want the request's id", msgs[1].Correlation)
	}
}
