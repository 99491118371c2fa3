package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom/dicomgen"
)

// TestGatewayWithAuth carries a study between two gateways whose relays
// have TLS and auth on (certificates from `medrelay certs init`, tokens
// from `medrelay credentials add`): the receiving gateway may read the
// study's objects because study.available grants it the study's folder,
// and a third client of the same relay may not. The gateways' HTTP APIs
// need their relay token.
func TestGatewayWithAuth(t *testing.T) {
	gwNeed(t, "storescu", "storescp")
	dicomgwBin(t)
	n := newSecNet(t, "main", "county-a", "county-b")
	main := n.start("main", "tcp", nil, "")
	countyA := n.start("county-a", "tcp", main, "tcp")
	countyB := n.start("county-b", "tcp", main, "tcp")
	waitFor(t, "main routes to both counties", func() bool { return len(main.Status().Children) == 2 })

	viewer := newViewer(t)
	relayKeys := func(token string) string {
		return fmt.Sprintf("  ca_file: %s\n  token: %s\n", n.ca, token)
	}
	tokA := n.credential("county-a", "gw-a", "--role", "client")
	tokB := n.credential("county-b", "gw-b", "--role", "client")
	b := newGateway(t, n.dir, gwConfig{name: "gw-b", id: "gw-b", relayURL: countyB.URL, aet: aetGwB,
		relayExtra: relayKeys(tokB), token: tokB, body: fmt.Sprintf(
			"peers:\n  - {aet: %s, host: 127.0.0.1, port: %d}\ndeliver:\n  default_destination: %s\nstable_after: 2s\n",
			aetViewer, viewer.Port, aetViewer)})
	// retention keeps gateway A's objects after the receipt, so the test
	// can ask for them afterwards.
	a := newGateway(t, n.dir, gwConfig{name: "gw-a", id: "gw-a", relayURL: countyA.URL, aet: aetGwA,
		relayExtra: relayKeys(tokA), token: tokA, body: fmt.Sprintf(
			"routes:\n  - match: {called_aet: %s}\n    to: %s\n    destination: %s\n    complete_on_release: true\nstable_after: 2s\nretention: 1h\n",
			aetRouteB, gwAddrB, aetViewer)})

	t.Run("the gateway's API needs its relay token", func(t *testing.T) {
		for token, want := range map[string]int{"": http.StatusUnauthorized, "not-the-token": http.StatusUnauthorized, tokA: http.StatusOK} {
			req, _ := http.NewRequest(http.MethodGet, a.URL+"/v1/studies", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET /v1/studies with token %.8q: status %d, want %d", token, resp.StatusCode, want)
			}
		}
	})

	study, dir := genStudyDir(t, dicomgen.Options{Instances: 30, Series: 3, InstanceBytes: 8 << 10, Mixed: true,
		MultiFrame: 1, Frames: 4, JPEG: 2})
	want := expectedSums(t, study)
	total := len(study.Files)

	t.Run("a study travels and its receipt comes back", func(t *testing.T) {
		mustStorescu(t, a.DICOM, aetRouteB, dir)
		out, in := acknowledged(t, a, b, study.StudyUID, nil)
		checkReceipt(t, out, in, total, total, 0)
		if d := checkArrived(t, viewer, want); d != 0 {
			t.Errorf("the viewer got %d duplicate copies", d)
		}
		if cli := rowsOf(a.CLIRows(t, study.StudyUID), "outgoing"); len(cli) != 1 || cli[0] != out {
			t.Errorf("dicomgw studies --json with $MEDRELAY_TOKEN: got %v, want %v", cli, out)
		}
	})

	t.Run("only the receiving gateway may read the study's objects", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		prefix := gwAddrA + "/studies/" + study.StudyUID + "/"
		ls, err := ctl(t, ctx, "files", "ls", "--relay", main.URL, "--ca-file", n.ca, "--token", main.admin, "--prefix", prefix, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		sc := bufio.NewScanner(strings.NewReader(ls))
		for sc.Scan() {
			var info struct {
				Key string `json:"key"`
			}
			if json.Unmarshal(sc.Bytes(), &info) == nil && strings.HasSuffix(info.Key, ".dcm") {
				keys = append(keys, info.Key)
			}
		}
		if len(keys) != total {
			t.Fatalf("objects under %s: %d, want %d (retention keeps them)", prefix, len(keys), total)
		}
		nosy := n.credential("county-b", "nosy", "--role", "client")
		for _, c := range []struct {
			id, token string
			want      int
		}{{"gw-b", tokB, http.StatusOK}, {"nosy", nosy, http.StatusForbidden}} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, countyB.URL+"/v1/files/o/"+keys[0], nil)
			req.SetBasicAuth(c.id, c.token)
			resp, err := n.https.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("county-b/%s reads %s: status %d, want %d", c.id, keys[0], resp.StatusCode, c.want)
			}
		}
	})
}
