// Package testenv is the one rule for what a test does when something it
// needs from the machine is missing: a program (minio, dcmtk's storescu,
// curl, fusermount, chromium) or a device (/dev/fuse).
//
// Under CI the test fails, so a CI run can never pass by skipping what it
// was meant to check. Elsewhere the test is skipped with a message that
// starts with "MISSING" and says what to install (scripts/deps.sh installs
// all of it).
//
// CI is recognised by one environment variable, MEDRELAY_REQUIRE_TOOLS=1,
// which .ci/run sets itself; the CI runner's own variables (CI=true and
// the like) are not consulted, so a developer can run exactly what CI
// runs with `MEDRELAY_REQUIRE_TOOLS=1 make test`.
//
// It is for tests only; nothing outside _test.go files and test helper
// packages (such as filestore/miniotest) imports it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// EnvVar is the environment variable that makes missing tools fail tests.
const EnvVar = "MEDRELAY_REQUIRE_TOOLS"

// Strict reports whether missing tools fail tests (EnvVar is "1").
func Strict() bool { return os.Getenv(EnvVar) == "1" }

// hints says how to get the tools tests use.
var hints = map[string]string{
	"minio":      "scripts/deps.sh installs the pinned build",
	"curl":       "Debian package curl; scripts/deps.sh installs it",
	"fusermount": "Debian package fuse3; scripts/deps.sh installs it",
	"chromium":   "Debian package chromium",
}

// Hint returns how to install tool; dcmtk tools and unknown tools get a
// generic hint.
func Hint(tool string) string {
	if h, ok := hints[tool]; ok {
		return h
	}
	switch tool {
	case "storescu", "storescp", "findscu", "movescu", "getscu", "echoscu",
		"dcmqrscp", "dump2dcm", "dcmdump", "dcmconv", "dcmodify":
		return "Debian package dcmtk; scripts/deps.sh installs it"
	}
	return "see scripts/deps.sh"
}

// Require returns the path of tool, looked up in PATH. When it is missing
// the test fails under CI and is skipped elsewhere.
func Require(tb testing.TB, tool string) string {
	tb.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		Missing(tb, "%s not found in PATH (%s)", tool, Hint(tool))
	}
	return p
}

// Lookup is Require for a tool a test can do without (extra fuzz seeds,
// say): under CI a missing tool still fails the test; elsewhere Lookup
// logs it and returns false instead of skipping.
func Lookup(tb testing.TB, tool string) (string, bool) {
	tb.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p, true
	}
	msg := fmt.Sprintf("MISSING: %s not found in PATH (%s)", tool, Hint(tool))
	if Strict() {
		tb.Fatalf("%s; %s=1 requires it", msg, EnvVar)
	}
	tb.Log(msg + "; going on without it")
	return "", false
}

// Missing fails the test under CI and skips it elsewhere, with the reason
// given by format and args (say what is missing and how to get it).
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := "MISSING: " + fmt.Sprintf(format, args...)
	if Strict() {
		tb.Fatalf("%s; %s=1 requires it", msg, EnvVar)
	}
	tb.Skip(msg + "; skipped (under CI this fails)")
}
