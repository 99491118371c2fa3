package relay_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/adminapi"
)

// GET /v1/events streams the relay's network as Server-Sent Events, one
// at once and then each second; a child whose link ends shows as down,
// with the time it went down, and its subtree as unreachable.
func TestEventsStreamTheNetwork(t *testing.T) {
	n := startNetwork(t)
	resp, err := http.Get(n.relays["main"].URL() + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	next := func() adminapi.Network {
		t.Helper()
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if event != "network" {
					t.Fatalf("event %q, want network", event)
				}
				var doc adminapi.Network
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &doc); err != nil {
					t.Fatal(err)
				}
				return doc
			}
		}
		t.Fatalf("the stream ended: %v", sc.Err())
		return adminapi.Network{}
	}
	states := func(doc adminapi.Network) map[string]string {
		m := map[string]string{}
		for _, r := range doc.Relays {
			m[r.ID] = r.State
		}
		return m
	}
	doc := next()
	if doc.ID != "main" || doc.Relays[0].State != adminapi.RelaySelf {
		t.Fatalf("first event %+v, want main first as self", doc)
	}
	want := map[string]string{"main": "self", "county-a": "up", "county-b": "up", "township-a1": "reported"}
	for i := 0; !equal(states(doc), want); i++ {
		if i == 30 {
			t.Fatalf("after 30 s the network is %v, want %v", states(doc), want)
		}
		doc = next()
	}
	// Traffic down to county-a: main counts it and times the acknowledgement.
	c := dial(t, n.relays["main"], "desk", false)
	if _, err := c.Send(t.Context(), "county-a/clinic", "consult.request", nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if i == 30 {
			t.Fatalf("after 30 s main shows no acknowledged traffic to county-a: %+v", doc.Relays)
		}
		doc = next()
		if r := relayIn(doc, "county-a"); r.In == 1 && r.Out == 1 && r.AckMs > 0 {
			break
		}
	}
	killed := time.Now()
	n.relays["county-a"].Close()
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatalf("10 s after county-a closed, the network is %v", states(doc))
		}
		doc = next()
		if s := states(doc); s["county-a"] == adminapi.RelayDown {
			if s["township-a1"] != adminapi.RelayUnreachable {
				t.Errorf("township-a1 is %q under a county-a that is down, want unreachable", s["township-a1"])
			}
			break
		}
	}
	for _, r := range doc.Relays {
		if r.ID == "county-a" && (r.Since.Before(killed.Add(-time.Second)) || r.Queue != "child/county-a") {
			t.Errorf("county-a down since %v with queue %q; want the time its link ended and child/county-a", r.Since, r.Queue)
		}
	}
}

func relayIn(doc adminapi.Network, id string) adminapi.NetworkRelay {
	for _, r := range doc.Relays {
		if r.ID == id {
			return r
		}
	}
	return adminapi.NetworkRelay{}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
