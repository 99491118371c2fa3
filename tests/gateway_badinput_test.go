package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dicomgen"
)

// testForgedAnnouncement has a client that uploaded nothing (county-a/gw-x)
// announce a study whose objects lie under gateway A's prefix: gateway B
// must deliver none of it, count none as stored, and say so.
func testForgedAnnouncement(t *testing.T, n *gwNet) {
	fake := dialSDK(t, n.countyA.URL, "gw-x", true)
	receipts := make(chan *client.Envelope, 4)
	fake.Handle("", func(_ context.Context, e *client.Envelope) error {
		receipts <- e
		return nil
	})
	study := dicomgen.NewStudyUID()
	series := study + ".1"
	type inst struct {
		SOPClassUID    string `json:"sop_class_uid"`
		SOPInstanceUID string `json:"sop_instance_uid"`
		SeriesUID      string `json:"series_uid"`
		TransferSyntax string `json:"transfer_syntax"`
		Size           int64  `json:"size"`
		SHA256         string `json:"sha256"`
		Key            string `json:"key"`
	}
	var instances []inst
	for i := 1; i <= 3; i++ {
		uid := fmt.Sprintf("%s.%d", series, i)
		instances = append(instances, inst{dicom.CTImageStorage, uid, series, dicom.ExplicitVRLittleEndian, 1024,
			strings.Repeat("ab", 32), fmt.Sprintf("county-a/gw-a/studies/%s/%s.abababab.dcm", study, uid)})
	}
	body, err := json.Marshal(map[string]any{"study_uid": study, "round": 1, "destination": aetViewer, "store": "county-a",
		"bucket": n.bucket, "series": map[string]int{series: 3}, "instances": instances})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), gwWait)
	defer cancel()
	args := map[string]string{"study_uid": study, "round": "1", "instances": "3", "destination": aetViewer, "supplement": "false"}
	if _, err := fake.Send(ctx, gwAddrB, "study.available", args, body); err != nil {
		t.Fatal(err)
	}
	r := waitRow(t, n.b, study, "incoming", "failed for every instance", gwWait, func(r gwRow) bool {
		return r.State == "failed" || r.State == gwStatesOK
	})
	if r.State != "failed" || r.Failed != 3 || r.Stored != 0 || r.AlreadyPresent != 0 || r.Error == "" {
		t.Errorf("gateway B's row for a study announced by a client that uploaded none of it: %v, want failed=3 stored=0 and a reason", r)
	}
	select {
	case e := <-receipts:
		if e.Command != "study.received" || e.Args["failed"] != "3" || e.Args["stored"] != "0" {
			t.Errorf("the forger got %s %v, want study.received with failed=3 stored=0", e.Command, e.Args)
		}
	case <-ctx.Done():
		t.Errorf("the forger got no receipt")
	}
	got := n.viewer.Received(t)
	for _, in := range instances {
		if len(got[in.SOPInstanceUID]) > 0 {
			t.Errorf("forged instance %s reached the viewer", in.SOPInstanceUID)
		}
	}
}

// testCorruptedObject overwrites one uploaded object in MinIO (same size,
// metadata kept) while the envelope waits for county-b: the corrupted
// bytes must never reach the viewer nor be counted as stored.
func testCorruptedObject(t *testing.T, n *gwNet) {
	study, dir := genStudyDir(t, dicomgen.Options{Instances: 5, InstanceBytes: 4 << 10, Mixed: true})
	want := expectedSums(t, study)
	mustStorescu(t, n.a.DICOM, aetRouteB, dir)
	n.countyB.Kill() // before stable_after ends: the announcement cannot reach gateway B
	waitRow(t, n.a, study.StudyUID, "outgoing", "announced", gwWait, func(r gwRow) bool { return r.State == "announced" })
	victim := study.Files[2].SOPInstanceUID
	key := ""
	for o := range n.minio.Client(t).ListObjects(context.Background(), n.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err == nil && strings.Contains(o.Key, victim) {
			key = o.Key
		}
	}
	if key == "" {
		n.countyB.Start()
		t.Fatalf("no object for instance %s in the bucket after gateway A announced the study", victim)
	}
	filesCorrupt(t, n.minio, n.bucket, key)
	n.countyB.Start()
	r := waitRow(t, n.b, study.StudyUID, "incoming", "acknowledged or failed", gwWait, func(r gwRow) bool {
		return r.State == gwStatesOK || r.State == "failed"
	})
	t.Logf("gateway B after the corrupted object: %v", r)
	switch {
	case r.State == gwStatesOK && r.Stored == 5:
		// Asked for again and delivered intact: checkArrived compares bytes.
		checkArrived(t, n.viewer, want)
	case r.State == "failed" && r.Failed == 1 && r.Stored == 4 && r.Error != "":
		delete(want, victim)
		checkArrived(t, n.viewer, want)
	default:
		t.Errorf("gateway B's row: %v, want either all 5 stored (the instance asked for again) or failed=1 stored=4 with a reason", r)
	}
	sum := expectedSums(t, dicomgen.Result{Files: study.Files[2:3]})[victim].sum
	for _, c := range n.viewer.Received(t)[victim] {
		if c.sum != sum {
			t.Errorf("the corrupted object of %s reached the viewer", victim)
		}
	}
	waitFor(t, "county-b routes again", func() bool { return routedRelays(n.main) == 2 })
}
