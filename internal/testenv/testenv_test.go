package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records whether it was failed or skipped.
type recorder struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) {
	r.skipped = true
	r.msg = args[0].(string)
	runtime.Goexit()
}

func TestMissingToolFailsUnderCIAndSkipsElsewhere(t *testing.T) {
	for _, tc := range []struct {
		env               string
		wantFail, wantSkp bool
	}{
		{"1", true, false},
		{"", false, true},
		{"true", false, true}, // only "1" counts
	} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(EnvVar, tc.env)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Require(r, "medrelay-no-such-tool")
			}()
			<-done
			if r.failed != tc.wantFail || r.skipped != tc.wantSkp {
				t.Fatalf("failed=%v skipped=%v, want failed=%v skipped=%v", r.failed, r.skipped, tc.wantFail, tc.wantSkp)
			}
			if !strings.HasPrefix(r.msg, "MISSING") {
				t.Errorf("message %q does not start with MISSING", r.msg)
			}
		})
	}
}

func TestRequireFindsPresentTool(t *testing.T) {
	t.Setenv(EnvVar, "1")
	if p := Require(t, "go"); p == "" {
		t.Fatal("Require(go) returned no path")
	}
}
