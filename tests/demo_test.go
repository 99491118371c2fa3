package tests

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDemoOnce runs the quick start's first command the way a newcomer
// does, and checks every scripted step succeeded.
func TestDemoOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin("medrelay"), "demo", "--once").CombinedOutput()
	if err != nil {
		t.Fatalf("medrelay demo --once: %v\n%s", err, out)
	}
	for _, want := range []string{
		"county-b/radiology received consult.request",
		"township-a1/clinic-7 received consult.reply",
		"county-a/clinic-12 came online and received study.ready",
		"All 6 steps succeeded.",
		"county-b/gw-b downloaded and verified 24 instances (SHA-256) and stored 24 at VIEWER_B",
		"the viewer VIEWER_B holds all 24 of 24 instances",
		"All 5 imaging steps succeeded.",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
