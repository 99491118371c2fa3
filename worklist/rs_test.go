package worklist_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestCreateInBothURLFormsAndRetrieve(t *testing.T) {
	s := startServer(t)
	r := s.must(http.StatusCreated, "POST", "/workitems?1.2.3.1", workitemJSON("county-b"))
	if !strings.HasSuffix(r.loc, "/dicom-web/workitems/1.2.3.1") {
		t.Errorf("Location: got %q, want .../dicom-web/workitems/1.2.3.1", r.loc)
	}
	s.must(http.StatusCreated, "POST", "/workitems?AffectedSOPInstanceUID=1.2.3.2", workitemJSON("county-b"))
	for _, uid := range []string{"1.2.3.1", "1.2.3.2"} {
		got := s.must(http.StatusOK, "GET", "/workitems/"+uid, "").objects(t)
		if len(got) != 1 || attr(got[0], "00080018") != uid || attr(got[0], "00741000") != "SCHEDULED" ||
			attr(got[0], "00080016") != "1.2.840.10008.5.1.4.34.6.1" {
			t.Errorf("retrieve %s: got %v", uid, got)
		}
	}
	// The same UID again is a conflict and changes nothing.
	r = s.do("POST", "/workitems?1.2.3.1", strings.Replace(workitemJSON("other"), "county-b", "x", 1))
	if r.code != http.StatusConflict {
		t.Fatalf("duplicate create: got %d, want 409", r.code)
	}
	if got := s.must(http.StatusOK, "GET", "/workitems/1.2.3.1", "").objects(t); attr(got[0], "00741202") != "county-b" {
		t.Errorf("duplicate create changed the workitem: %v", got)
	}
}

func TestClaimRaceHasOneWinner(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", "/workitems?1.2.9", workitemJSON("county-b"))
	const n = 16
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = s.do("PUT", "/workitems/1.2.9/state", stateJSON("IN PROGRESS", fmt.Sprintf("2.25.%d", 100+i))).code
		}()
	}
	wg.Wait()
	winner, ok, conflicts := -1, 0, 0
	for i, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
			winner = i
		case http.StatusConflict:
			conflicts++
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("claims: %d answered 200 and %d 409 of %d (%v); want exactly one 200, the rest 409", ok, conflicts, n, codes)
	}
	tx := fmt.Sprintf("2.25.%d", 100+winner)
	got := s.must(http.StatusOK, "GET", "/workitems/1.2.9", "")
	if strings.Contains(string(got.body), "00081195") {
		t.Errorf("retrieve returned the Transaction UID: %s", got.body)
	}
	// A loser cannot update or finish; the owner can.
	loser := fmt.Sprintf("2.25.%d", 100+(winner+1)%n)
	s.must(http.StatusBadRequest, "POST", "/workitems/1.2.9?"+loser, performed)
	s.must(http.StatusBadRequest, "PUT", "/workitems/1.2.9/state", stateJSON("COMPLETED", loser))
	// Completion needs the final state attributes.
	r := s.must(http.StatusConflict, "PUT", "/workitems/1.2.9/state", stateJSON("COMPLETED", tx))
	if !strings.Contains(r.warning, "0074,1216") || !strings.Contains(string(r.body), `"00000902"`) {
		t.Errorf("final state refusal: Warning %q body %s; want the missing attribute named", r.warning, r.body)
	}
	s.must(http.StatusOK, "POST", "/workitems/1.2.9?transaction="+tx, performed)
	s.must(http.StatusOK, "PUT", "/workitems/1.2.9/state", stateJSON("COMPLETED", tx))
	r = s.must(http.StatusOK, "PUT", "/workitems/1.2.9/state", stateJSON("COMPLETED", tx))
	if !strings.Contains(r.warning, "already in the requested state of COMPLETED") {
		t.Errorf("repeat completion: Warning %q, want the already-in-state warning", r.warning)
	}
	// A completed workitem cannot be claimed or updated.
	s.must(http.StatusConflict, "PUT", "/workitems/1.2.9/state", stateJSON("IN PROGRESS", "2.25.1"))
	s.must(http.StatusBadRequest, "POST", "/workitems/1.2.9?"+tx, `{"00741204":{"vr":"LO","Value":["x"]}}`)
	s.must(http.StatusConflict, "POST", "/workitems/1.2.9/cancelrequest", "")
}

func TestBadInputChangesNothing(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", "/workitems?1.2.5", workitemJSON("county-b"))
	before := string(s.must(http.StatusOK, "GET", "/workitems/1.2.5", "").body)
	cases := []struct {
		name, method, path, body string
		want                     int
	}{
		{"malformed JSON", "POST", "/workitems?1.2.6", `{"00741000":`, 400},
		{"bad tag", "POST", "/workitems?1.2.6", `{"741000":{"vr":"CS","Value":["SCHEDULED"]}}`, 400},
		{"not scheduled", "POST", "/workitems?1.2.6", `{"00741000":{"vr":"CS","Value":["IN PROGRESS"]}}`, 400},
		{"transaction UID at create", "POST", "/workitems?1.2.6", `{"00741000":{"vr":"CS","Value":["SCHEDULED"]},"00081195":{"vr":"UI","Value":["1.2"]}}`, 400},
		{"oversized body", "POST", "/workitems?1.2.6", `{"00741204":{"vr":"LO","Value":["` + strings.Repeat("x", 1<<20) + `"]}}`, 413},
		{"unknown workitem retrieve", "GET", "/workitems/9.9.9", "", 404},
		{"unknown workitem update", "POST", "/workitems/9.9.9", `{"00741204":{"vr":"LO","Value":["x"]}}`, 404},
		{"unknown workitem state", "PUT", "/workitems/9.9.9/state", stateJSON("IN PROGRESS", "2.25.1"), 404},
		{"unknown workitem cancel", "POST", "/workitems/9.9.9/cancelrequest", "", 404},
		{"unknown workitem subscribe", "POST", "/workitems/9.9.9/subscribers/EXPERT1", "", 404},
		{"malformed update", "POST", "/workitems/1.2.5", `[{"00741204":`, 400},
		{"state in update", "POST", "/workitems/1.2.5", `{"00741000":{"vr":"CS","Value":["COMPLETED"]}}`, 400},
		{"transaction UID on scheduled", "POST", "/workitems/1.2.5?2.25.7", `{"00741204":{"vr":"LO","Value":["x"]}}`, 400},
		{"state without transaction UID", "PUT", "/workitems/1.2.5/state", `{"00741000":{"vr":"CS","Value":["IN PROGRESS"]}}`, 400},
		{"complete a scheduled workitem", "PUT", "/workitems/1.2.5/state", stateJSON("COMPLETED", "2.25.7"), 409},
		{"unknown state", "PUT", "/workitems/1.2.5/state", stateJSON("DONE", "2.25.7"), 400},
		{"bad search key", "GET", "/workitems?NoSuchKeyword=1", "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(c.method, c.path, c.body)
			if r.code != c.want {
				t.Fatalf("got %d (%s), want %d", r.code, r.body, c.want)
			}
			if r.warning == "" || !strings.Contains(string(r.body), `"00000902"`) {
				t.Errorf("refusal without a comment: Warning %q body %s", r.warning, r.body)
			}
		})
	}
	// Wrong media type.
	req, _ := http.NewRequest("POST", s.base+"/workitems?1.2.6", strings.NewReader(workitemJSON("x")))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: got %d, want 415", resp.StatusCode)
	}
	s.must(http.StatusNotFound, "GET", "/workitems/1.2.6", "")
	if after := string(s.must(http.StatusOK, "GET", "/workitems/1.2.5", "").body); after != before {
		t.Errorf("refused requests changed the workitem:\nbefore %s\nafter  %s", before, after)
	}
}

func TestSearchKeysIncludefieldAndPaging(t *testing.T) {
	s := startServer(t)
	for i := range 5 {
		label := "county-b"
		if i == 4 {
			label = "county-c"
		}
		s.must(http.StatusCreated, "POST", fmt.Sprintf("/workitems?1.2.7.%d", i), workitemJSON(label))
	}
	got := s.must(http.StatusOK, "GET", "/workitems?WorklistLabel=county-b&limit=3", "")
	if n := len(got.objects(t)); n != 3 || !strings.Contains(got.warning, "1 additional") {
		t.Errorf("page 1: %d matches, Warning %q; want 3 and 1 additional", n, got.warning)
	}
	got = s.must(http.StatusOK, "GET", "/workitems?WorklistLabel=county-b&limit=3&offset=3", "")
	if objs := got.objects(t); len(objs) != 1 || attr(objs[0], "00080018") != "1.2.7.3" {
		t.Errorf("page 2: got %v, want 1.2.7.3", objs)
	}
	got = s.must(http.StatusOK, "GET", "/workitems?00741202=county-c", "")
	objs := got.objects(t)
	if len(objs) != 1 || attr(objs[0], "00080018") != "1.2.7.4" || attr(objs[0], "00741204") == "" {
		t.Errorf("by tag: got %v", objs)
	}
	if _, ok := objs[0]["00100020"]; !ok {
		t.Errorf("search result lacks Patient ID (a return key): %v", objs[0])
	}
	s.must(http.StatusNoContent, "GET", "/workitems?WorklistLabel=nowhere", "")
	got = s.must(http.StatusOK, "GET", "/workitems?ProcedureStepState=SCHEDULED&WorklistLabel=county*&includefield=all", "")
	if n := len(got.objects(t)); n != 5 {
		t.Errorf("wildcard: %d matches, want 5", n)
	}
}
