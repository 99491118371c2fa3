package config

import (
	"strings"
	"testing"
	"time"
)

const valid = `id: gw-a1
relay:
  url: http://127.0.0.1:7300
data_dir: ./data/gw-a1
dicom:
  listen: 0.0.0.0:11112
  aet: GW_A1
peers:
  - {aet: CT_A1, host: 10.1.0.5, port: 104}
  - {aet: PACS_A1, host: 10.1.0.6, port: 104}
routes:
  - match: {called_aet: TO_COUNTY_B}
    to: county-b/gw-b
    destination: RAD_B
    complete_on_release: false
deliver:
  default_destination: PACS_A1
stable_after: 10s
http: 127.0.0.1:8400
filestore: {}
`

func TestParseIssueExample(t *testing.T) {
	c, err := Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if c.OwnAET() != "GW_A1" || c.StableAfter != 10*time.Second || len(c.Peers) != 2 || c.Routes[0].To != "county-b/gw-b" {
		t.Errorf("parsed %+v", c)
	}
	if !c.Answers("TO_COUNTY_B") || !c.Answers("GW_A1") || c.Answers("OTHER") {
		t.Error("Answers: want the own title and the routes' called titles only")
	}
	if r, ok := c.Route("TO_COUNTY_B", "CT_A1", "CT"); !ok || r.Destination != "RAD_B" {
		t.Errorf("Route: got %+v %v", r, ok)
	}
	if c.Deliver.Attempts != DefaultDeliverAttempt || c.Relay.Transport != "auto" {
		t.Errorf("defaults not filled: %+v", c.Deliver)
	}
}

func TestAETList(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(valid, "aet: GW_A1", "aet: [GW_A1, GW_A2]", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.DICOM.AET) != 2 || !c.Answers("GW_A2") {
		t.Errorf("dicom.aet list: got %v", c.DICOM.AET)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"unknown key", "stable_after: 10s", "stable_afterr: 10s", `line 18: unknown key "stable_afterr"`},
		{"wrong type", "stable_after: 10s", "stable_after: soon", "stable_after"},
		{"bad id", "id: gw-a1", "id: GW A1", "id:"},
		{"bad route target", "to: county-b/gw-b", "to: county-b", "routes[0].to"},
		{"unknown default destination", "default_destination: PACS_A1", "default_destination: NOPE", "deliver.default_destination"},
		{"long AE title", "aet: GW_A1", "aet: A_TITLE_LONGER_THAN_16", "dicom.aet"},
		{"missing relay url", "  url: http://127.0.0.1:7300", "  transport: tcp", "relay.url is required"},
		{"bad listen", "listen: 0.0.0.0:11112", "listen: 11112", "dicom.listen"},
		{"bad peer port", "port: 104}\n  - {aet: PACS_A1", "port: 0}\n  - {aet: PACS_A1", "peers[0].port"},
		{"duplicate peer", "aet: PACS_A1, host", "aet: CT_A1, host", "peers[1].aet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(valid, c.from, c.to, 1)
			if in == valid {
				t.Fatalf("case does not change the config")
			}
			_, err := Parse([]byte(in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
