package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSDKAndCLIsNeverLinkTheServer keeps the layering rule: the client
// SDK, medrelayctl, the protocol packages they use and the web console
// toolkit (webui, which the gateway mounts too) depend on nothing
// under relay/ (the server), directly or through another package.
func TestSDKAndCLIsNeverLinkTheServer(t *testing.T) {
	const module = "github.com/medrelay/medrelay"
	roots := []string{"./client-sdk/...", "./cmd/medrelayctl", "./link/...", "./envelope", "./adminapi", "./webui"}
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, roots...)...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list found only %q; is the module layout broken?", deps)
	}
	for _, p := range deps {
		if p == module+"/relay" || strings.HasPrefix(p, module+"/relay/") {
			t.Errorf("%s is linked by the SDK, medrelayctl or the protocol packages; they must not depend on the server", p)
		}
	}
}
