package relay_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/relay/audit"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Main checks the audit records a child sends: one it cannot read, or
// about a sender outside that child's subtree, is kept aside as a dead
// letter with the reason, never in the log, so queries keep answering and
// the chain still verifies. A valid one is logged.
func TestMainChecksChildAuditRecords(t *testing.T) {
	main := startRelay(t, "main", "", t.TempDir())
	// A child relay, spoken to over a real socket.
	sock, err := net.Dial("tcp", main.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	c := link.New(sock.(link.Stream), fastLink)
	defer c.Close("test over")
	if _, err := c.Greet(&pb.Hello{RelayId: "county-x", Subtree: []string{"county-x", "township-x"}, Version: "test"}); err != nil {
		t.Fatal(err)
	}
	c.Run(nopHandler{})
	waitFor(t, "county-x connected", func() bool {
		for _, ch := range main.Status().Children {
			if ch.ID == "county-x" && ch.Connected {
				return true
			}
		}
		return false
	})
	now := time.Now()
	record := func(from, to string) []byte {
		e := &pb.Envelope{Id: envelope.NewID(), Command: "consult.request", From: mustAddr(t, from), To: mustAddr(t, to)}
		return audit.Record(e, 100, now, "shortcut at county-x: queued: client/b")
	}
	good := record("township-x/clinic-1", "county-x/radiology")
	bodies := map[string][]byte{
		"good":      good,
		"not json":  []byte("not json"),
		"forged":    record("county-b/clinic-9", "county-x/radiology"),
		"extra key": []byte(`{"id":"` + envelope.NewID() + `","from":"county-x/a","to":"county-x/b","command":"c","patient":"x"}`),
	}
	var raws [][]byte
	for _, b := range bodies {
		raw, err := proto.Marshal(audit.Event("county-x", b, now))
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	acked := make(chan *pb.Ack, 1)
	if err := c.SendAsync(context.Background(), raws, func(a *pb.Ack, err error) {
		if err != nil {
			t.Error(err)
		}
		acked <- a
	}); err != nil {
		t.Fatal(err)
	}
	if a := <-acked; a == nil || len(a.Rejected) != 0 {
		t.Fatalf("ack = %v: main should take the batch and set bad records aside", a)
	}
	waitFor(t, "three records set aside", func() bool { return main.Status().DeadLetters == 3 })

	recs, err := main.Audit(audit.Query{})
	if err != nil || len(recs) != 1 || recs[0].From != "township-x/clinic-1" {
		t.Fatalf("audit = %+v, %v; want the one good record", recs, err)
	}
	resp, err := http.Get(main.URL() + "/v1/audit")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/v1/audit answered %s", resp.Status)
	}
	var res adminapi.AuditCheck
	if resp, err := http.Get(main.URL() + "/v1/audit/verify"); err != nil {
		t.Fatal(err)
	} else {
		json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
	}
	if !res.OK || res.Records != 1 {
		t.Errorf("verify = %+v; want ok over 1 record", res)
	}
	dl := deadLetters(t, main)
	reasons := ""
	for _, d := range dl {
		if d.Queue != "audit" || !strings.HasPrefix(d.Reason, "audit record refused: ") {
			t.Errorf("dead letter %+v: want queue audit and a reason", d)
		}
		reasons += d.Reason + "\n"
	}
	for _, want := range []string{"does not lie in the subtree of child county-x", "not an audit record", "unknown field"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("no dead letter says %q; reasons:\n%s", want, reasons)
		}
	}
	if _, err := main.Replay(dl[0].Seq); err == nil {
		t.Errorf("a refused audit record was replayed")
	}
}

func mustAddr(t *testing.T, s string) *pb.Address {
	a, err := envelope.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
