package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// startArchive runs dcmqrscp as AE ARCHIVE with a move destination GW at
// gwPort, and loads files into it with storescu.
func startArchive(t *testing.T, gwPort int, files []string) int {
	t.Helper()
	need(t, "dcmqrscp", "storescu")
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	os.Mkdir(db, 0o755)
	port := freePort(t)
	cfg := fmt.Sprintf(`NetworkTCPPort = %d
MaxPDUSize = 16384
MaxAssociations = 16

HostTable BEGIN
gw = (GW, 127.0.0.1, %d)
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
ARCHIVE %s RW (500, 1024mb) ANY
AETable END
`, port, gwPort, db)
	conf := filepath.Join(dir, "dcmqrscp.cfg")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startServer(t, port, "dcmqrscp", "-c", conf, strconv.Itoa(port))
	mustRun(t, "storescu", append([]string{"-aec", "ARCHIVE", "127.0.0.1", strconv.Itoa(port)}, files...)...)
	return port
}

func TestFindAndMoveAgainstDcmqrscp(t *testing.T) {
	need(t, "dcmqrscp", "storescu")
	in := t.TempDir()
	study := testRoot + ".21"
	files := genStudy(t, filepath.Join(in, "a"), study, 12, 16, 16, 1)
	files = append(files, genStudy(t, filepath.Join(in, "b"), testRoot+".22", 3, 8, 8, 1)...)
	out := t.TempDir()
	gwPort, _ := startGW(t, "GW", out)
	port := startArchive(t, gwPort, files)
	peer := []string{"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--aet", "FINDER", "--called", "ARCHIVE"}

	t.Run("find study by PatientID", func(t *testing.T) {
		res := gw(t, true, append([]string{"find"}, append(peer, "--level", "STUDY", "-k", "PatientID=PID-21")...)...)
		matches := jsonLines(t, res)
		if len(matches) != 1 || matches[0]["StudyInstanceUID"] != study || matches[0]["PatientID"] != "PID-21" {
			t.Fatalf("matches %v, want study %s", matches, study)
		}
	})
	t.Run("find images by tag number", func(t *testing.T) {
		res := gw(t, true, append([]string{"find"}, append(peer, "--level", "IMAGE", "-k", "0020,000D="+study,
			"-k", "0020,000E="+study+".1")...)...)
		if got := len(jsonLines(t, res)); got != 12 {
			t.Fatalf("%d image matches, want 12\n%s", got, res)
		}
	})
	t.Run("move study to dicomgw scp", func(t *testing.T) {
		res := gw(t, true, append([]string{"move"}, append(peer, "--dest", "GW", "-k", "StudyInstanceUID="+study)...)...)
		if !strings.Contains(res, "completed 12, failed 0") {
			t.Errorf("move output:\n%s", res)
		}
		sameContent(t, files[:12], filesUnder(t, out))
	})
	t.Run("move to unknown destination fails", func(t *testing.T) {
		res := gw(t, false, append([]string{"move"}, append(peer, "--dest", "NOWHERE", "-k", "StudyInstanceUID="+study)...)...)
		if !strings.Contains(res, "A801") {
			t.Errorf("move output does not show A801:\n%s", res)
		}
	})
}

// jsonLines parses the JSON objects of find's output (other lines, such
// as the match count on stderr, are skipped).
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		res = append(res, m)
	}
	return res
}
