package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestWorklistSurvivesKill runs `dicomgw serve` with the worklist
// enabled: a global subscriber away while workitems are created, with a
// kill -9 of the gateway in the middle, receives every creation in order
// when it connects; a claim race over real HTTP has one winner.
func TestWorklistSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	main := newRelay(t, dir, "main", nil, "")
	gw := newGateway(t, dir, gwConfig{name: "gw-w", id: "gw-w", relayURL: main.URL, aet: "GW_W",
		body: "worklist: {enabled: true, retention: 168h}\n"})
	base := gw.URL + "/dicom-web"
	ups := func(method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/dicom+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := ups("POST", "/workitems/1.2.840.10008.5.1.4.34.5/subscribers/EXPERT1", ""); c != http.StatusCreated {
		t.Fatalf("global subscribe: got %d, want 201", c)
	}
	const n = 40
	for i := 1; i <= n; i++ {
		item := `{"00741000":{"vr":"CS","Value":["SCHEDULED"]},"00741204":{"vr":"LO","Value":["reading"]}}`
		if c := ups("POST", fmt.Sprintf("/workitems?1.2.99.%d", i), item); c != http.StatusCreated {
			t.Fatalf("create %d: got %d, want 201", i, c)
		}
		if i == n/2 {
			gw.Restart() // kill -9, then start again
		}
	}

	// The claim race: exactly one of five claims wins.
	codes := make(chan int, 5)
	for i := range 5 {
		go func() {
			codes <- ups("PUT", "/workitems/1.2.99.1/state", fmt.Sprintf(
				`{"00741000":{"vr":"CS","Value":["IN PROGRESS"]},"00081195":{"vr":"UI","Value":["2.25.%d"]}}`, i+1))
		}()
	}
	won := 0
	for range 5 {
		switch c := <-codes; c {
		case http.StatusOK:
			won++
		case http.StatusConflict:
		default:
			t.Errorf("claim: got %d, want 200 or 409", c)
		}
	}
	if won != 1 {
		t.Fatalf("claims won: %d, want exactly 1", won)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/subscribers/EXPERT1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	next := func() (uid, typ, state string) {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read event: %v", err)
		}
		var ev map[string]struct{ Value []any }
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("event %s: %v", data, err)
		}
		first := func(tag string) string {
			if v := ev[tag].Value; len(v) > 0 {
				return fmt.Sprint(v[0])
			}
			return ""
		}
		return first("00001000"), first("00001002"), first("00741000")
	}
	for i := 1; i <= n; i++ {
		uid, typ, state := next()
		if want := fmt.Sprintf("1.2.99.%d", i); uid != want || typ != "1" || state != "SCHEDULED" {
			t.Fatalf("event %d: got %s type %s %s, want %s type 1 SCHEDULED", i, uid, typ, state, want)
		}
	}
	if uid, _, state := next(); uid != "1.2.99.1" || state != "IN PROGRESS" {
		t.Fatalf("after the creations: got %s %s, want the claim of 1.2.99.1", uid, state)
	}
}

// TestWorklistAcrossRelays: an application under county-a subscribes to
// the worklist of a gateway under county-b with a ups.subscribe envelope
// and receives the workitem's events as ups.event envelopes.
func TestWorklistAcrossRelays(t *testing.T) {
	dir := t.TempDir()
	main := newRelay(t, dir, "main", nil, "")
	countyA := newRelay(t, dir, "county-a", main, "")
	countyB := newRelay(t, dir, "county-b", main, "")
	waitFor(t, "main routes to both counties", func() bool { return routedRelays(main) == 2 })
	gw := newGateway(t, dir, gwConfig{name: "gw-w", id: "gw-w", relayURL: countyB.URL, aet: "GW_W",
		body: "worklist: {enabled: true}\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := ctl(t, ctx, "send", "--relay", countyA.URL, "--id", "app1", "--to", "county-b/gw-w",
		"--command", "ups.subscribe", "--arg", "workitem=1.2.840.10008.5.1.4.34.5.1", "--arg", "filter=WorklistLabel=county-b"); err != nil {
		t.Fatal(err)
	}
	for i, label := range []string{"county-c", "county-b"} {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/dicom-web/workitems?1.2.98.%d", gw.URL, i), strings.NewReader(
			`{"00741000":{"vr":"CS","Value":["SCHEDULED"]},"00741202":{"vr":"LO","Value":["`+label+`"]}}`))
		req.Header.Set("Content-Type", "application/dicom+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	out, err := ctl(t, ctx, "listen", "--relay", countyA.URL, "--id", "app1", "--count", "1", "--timeout", "60s", "--json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ups.event"`, `"workitem":"1.2.98.1"`, `"event_type":"1"`, `"number":"1"`} {
		if !strings.Contains(strings.ReplaceAll(out, " ", ""), want) {
			t.Errorf("ups.event envelope lacks %s:\n%s", want, out)
		}
	}
}
