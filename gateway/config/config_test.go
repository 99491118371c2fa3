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
		{"token without TLS", "  url: http://127.0.0.1:7300", "  url: http://127.0.0.1:7300\n  token: t0k", "relay.token: relay.url http://127.0.0.1:7300 is not https://"},
		{"empty api token", "filestore: {}", "http_tokens: ['']", "http_tokens[0]"},
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

func TestWorklistKey(t *testing.T) {
	c, err := Parse([]byte(valid + "worklist: {enabled: true, retention: 72h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Worklist.Enabled || c.Worklist.Retention != 72*time.Hour {
		t.Errorf("worklist: got %+v, want enabled with 72h", c.Worklist)
	}
	c, _ = Parse([]byte(valid + "worklist: {enabled: true}\n"))
	if c.Worklist.Retention != DefaultWorklistRetention {
		t.Errorf("default retention: got %s, want %s", c.Worklist.Retention, DefaultWorklistRetention)
	}
	for in, want := range map[string]string{
		"worklist: {enabled: true, retention: -1h}\n":     "worklist.retention",
		"worklist: {enabled: true, retension: 1h}\n":      `unknown key "retension"`,
		"worklist:\n  enabled: true\n  retention: soon\n": `retention: "soon" is not a duration`,
	} {
		_, err := Parse([]byte(valid + in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error naming %s", in, err, want)
		}
	}
}

func TestRelayToken(t *testing.T) {
	plain := strings.Replace(valid, "  url: http://127.0.0.1:7300", "  url: http://127.0.0.1:7300\n  token: t0k\n  allow_plaintext: true", 1)
	c, err := Parse([]byte(plain))
	if err != nil {
		t.Fatalf("a token over http:// with relay.allow_plaintext: %v", err)
	}
	if !c.Relay.AllowPlaintext || c.Relay.Token != "t0k" {
		t.Errorf("relay: got %+v", c.Relay)
	}
	withAPI := strings.Replace(valid, "filestore: {}", "http_tokens: [ops-token]", 1)
	tlsRelay := strings.Replace(withAPI, "http://127.0.0.1:7300", "https://127.0.0.1:7300", 1)

	// The token may come from $MEDRELAY_TOKEN; the file's wins.
	if c, err = parse([]byte(tlsRelay), "from-env"); err != nil || c.Relay.Token != "from-env" {
		t.Fatalf("token from the environment: %v, %+v", err, c)
	}
	if got, want := c.APITokens(), []string{"from-env", "ops-token"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("APITokens: got %v, want %v", got, want)
	}
	if c, err = parse([]byte(plain), "from-env"); err != nil || c.Relay.Token != "t0k" {
		t.Errorf("token in the file and in the environment: %v, got %q, want the file's", err, c.Relay.Token)
	}
	_, err = parse([]byte(valid), "from-env")
	if err == nil || !strings.Contains(err.Error(), "relay.token (from $MEDRELAY_TOKEN)") {
		t.Errorf("token from the environment to an http:// relay: got %v, want an error naming $MEDRELAY_TOKEN", err)
	}
}
