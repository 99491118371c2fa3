package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gwGoodConfig is a valid gateway configuration with issue 9's keys.
const gwGoodConfig = `id: gw-a
relay:
  url: http://127.0.0.1:7300
data_dir: DATA
dicom:
  listen: 127.0.0.1:11112
  aet: GW_A
peers:
  - {aet: CT_A1, host: 127.0.0.1, port: 104}
routes:
  - match: {called_aet: TO_COUNTY_B}
    to: county-b/gw-b
    destination: RAD_B
    complete_on_release: false
deliver:
  default_destination: CT_A1
stable_after: 10s
http: 127.0.0.1:8400
`

// TestGatewayCheckConfig runs `dicomgw check-config` on a valid file and
// on files with one mistake each: exit 1 and a message naming the key.
func TestGatewayCheckConfig(t *testing.T) {
	dicomgwBin(t)
	dir := t.TempDir()
	good := strings.Replace(gwGoodConfig, "DATA", filepath.Join(dir, "data"), 1)
	tests := []struct {
		name, old, new, key string
	}{
		{"valid", "", "", ""},
		{"unknown top-level key", "id: gw-a\n", "colour: red\nid: gw-a\n", "colour"},
		{"unknown key in a route", "{called_aet: TO_COUNTY_B}", "{called_aet: TO_COUNTY_B, colour: red}", "colour"},
		{"missing id", "id: gw-a\n", "", "id"},
		{"bad duration", "stable_after: 10s", "stable_after: ten", "stable_after"},
		{"route target not an address", "to: county-b/gw-b", "to: nonsense", "routes[0].to"},
		{"peer port 0", "port: 104", "port: 0", "peers[0].port"},
		{"AE title too long", "aet: GW_A\n", "aet: GW_A_MUCH_TOO_LONG_TITLE\n", "dicom.aet"},
		{"default destination not a peer", "default_destination: CT_A1", "default_destination: NOBODY", "deliver.default_destination"},
		{"relay URL not http", "url: http://127.0.0.1:7300", "url: ftp://x", "relay.url"},
		{"listen not HOST:PORT", "listen: 127.0.0.1:11112", "listen: nowhere", "dicom.listen"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			if tt.old != "" {
				if !strings.Contains(cfg, tt.old) {
					t.Fatalf("test bug: %q not in the config", tt.old)
				}
				cfg = strings.Replace(cfg, tt.old, tt.new, 1)
			}
			path := filepath.Join(dir, "gw-"+string(rune('a'+i))+".yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			cmds := []string{"check-config"}
			if tt.key != "" {
				cmds = append(cmds, "serve") // serve refuses the same file, with the same words
			}
			for _, cmd := range cmds {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := exec.CommandContext(ctx, bin("dicomgw"), cmd, "--config", path).CombinedOutput()
				cancel()
				var exit *exec.ExitError
				switch {
				case tt.key == "" && (err != nil || !strings.Contains(string(out), "config ok")):
					t.Errorf("dicomgw %s on a valid file: %v: %s, want exit 0 and \"config ok\"", cmd, err, out)
				case tt.key != "" && (!errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), tt.key)):
					t.Errorf("dicomgw %s: %v: %s, want exit 1 and a message naming %s", cmd, err, out, tt.key)
				}
			}
		})
	}
}
