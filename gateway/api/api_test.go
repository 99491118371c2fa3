package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medrelay/medrelay/gateway/store"
)

type backend struct {
	ready bool
	pulls []store.Pull
}

func (b *backend) Ready() (bool, string) { return b.ready, "relay not connected" }
func (b *backend) StartPull(p store.Pull) error {
	if p.From == "UNKNOWN" {
		return errors.New("from: \"UNKNOWN\" is not in this gateway's peers")
	}
	b.pulls = append(b.pulls, p)
	return nil
}

func newAPI(t *testing.T, token string) (*httptest.Server, *backend, *store.Store) {
	db, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := &backend{}
	srv := httptest.NewServer(Handler(Options{Store: db, Backend: b, Token: token}))
	t.Cleanup(srv.Close)
	return srv, b, db
}

func do(t *testing.T, method, url, body, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestStudiesListsTransfersWithTheContractFields(t *testing.T) {
	srv, _, db := newAPI(t, "")
	db.Update(func(tx *store.Tx) error {
		tx.PutTransfer(&store.Transfer{StudyUID: "1.2.3", Side: store.Outgoing, Peer: "county-b/gw-b", State: store.Announced, Instances: 4})
		return tx.PutTransfer(&store.Transfer{StudyUID: "1.2.4", Side: store.Incoming, Peer: "county-a/gw-a", Destination: "RAD", State: store.Storing})
	})
	code, out := do(t, "GET", srv.URL+"/v1/studies?study=1.2.3", "", "")
	studies, _ := out["studies"].([]any)
	if code != 200 || len(studies) != 1 {
		t.Fatalf("GET /v1/studies?study=1.2.3: %d %v", code, out)
	}
	row := studies[0].(map[string]any)
	for _, k := range []string{"study_uid", "side", "peer", "destination", "state", "instances", "stored", "already_present", "failed", "error"} {
		if _, ok := row[k]; !ok {
			t.Errorf("row lacks %q: %v", k, row)
		}
	}
	if row["state"] != "announced" || row["side"] != "outgoing" || row["instances"] != 4.0 {
		t.Errorf("row %v", row)
	}
	if code, out := do(t, "GET", srv.URL+"/v1/studies?study=abc", "", ""); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "not a UID") {
		t.Errorf("bad study: %d %v", code, out)
	}
}

func TestSendValidatesAndStartsAPull(t *testing.T) {
	srv, b, _ := newAPI(t, "")
	cases := []struct{ body, want string }{
		{`{"study_uid":"1.2.3","from":"PACS","to":"county-b"}`, "to \"county-b\" is invalid"},
		{`{"study_uid":"x","from":"PACS","to":"county-b/gw-b"}`, "study_uid \"x\" is not a UID"},
		{`{"study_uid":"1.2.3","to":"county-b/gw-b"}`, "from is required"},
		{`{"study_uid":"1.2.3","from":"UNKNOWN","to":"county-b/gw-b"}`, "not in this gateway's peers"},
		{`{"study":"1.2.3"}`, "unknown field"},
	}
	for _, c := range cases {
		code, out := do(t, "POST", srv.URL+"/v1/studies/send", c.body, "")
		if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), c.want) {
			t.Errorf("POST %s: %d %v, want 400 with %q", c.body, code, out, c.want)
		}
	}
	if len(b.pulls) != 0 {
		t.Fatalf("a refused request started a pull: %v", b.pulls)
	}
	code, _ := do(t, "POST", srv.URL+"/v1/studies/send", `{"study_uid":"1.2.3","from":"PACS","to":"county-b/gw-b","destination":"RAD"}`, "")
	if code != 202 || len(b.pulls) != 1 || b.pulls[0].Destination != "RAD" {
		t.Errorf("valid send: %d, pulls %v", code, b.pulls)
	}
}

func TestTokenAndReadiness(t *testing.T) {
	srv, b, _ := newAPI(t, "s3cret")
	if code, _ := do(t, "GET", srv.URL+"/v1/studies", "", ""); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/v1/studies", "", "s3cret"); code != 200 {
		t.Errorf("with the token: %d, want 200", code)
	}
	resp, _ := http.Get(srv.URL + "/readyz")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("/readyz before the relay link: %d, want 503", resp.StatusCode)
	}
	b.ready = true
	for _, p := range []string{"/readyz", "/healthz"} {
		resp, _ := http.Get(srv.URL + p)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d, want 200 without a token", p, resp.StatusCode)
		}
	}
}
