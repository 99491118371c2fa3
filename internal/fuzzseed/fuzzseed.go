// Package fuzzseed writes the seed corpora of fuzz targets: real inputs,
// made by the code that produces them in production (a journal segment
// written by the journal, a config from configs/, a signed URL from the
// file service), kept in testdata/fuzz/<FuzzTarget>/ in go test's own
// corpus format, so that `go test` replays them and `go test -fuzz`
// starts from them.
//
// The files are written by each package's TestWriteFuzzSeeds, which runs
// only when MEDRELAY_WRITE_FUZZ_SEEDS=1:
//
//	MEDRELAY_WRITE_FUZZ_SEEDS=1 go test -run WriteFuzzSeeds ./...
//
// and is skipped otherwise (the checked-in files are what tests use).
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// EnvVar makes TestWriteFuzzSeeds write the corpora.
const EnvVar = "MEDRELAY_WRITE_FUZZ_SEEDS"

// Enabled skips tb unless EnvVar is "1".
func Enabled(tb testing.TB) {
	tb.Helper()
	if os.Getenv(EnvVar) != "1" {
		tb.Skipf("writes fuzz seed corpora only with %s=1", EnvVar)
	}
}

// Write stores one seed for target, named name, in testdata/fuzz/target/
// of the current directory (the package's, under go test). values are the
// fuzz function's arguments after *testing.T, in order: []byte, string,
// bool, int, int64 or uint64.
func Write(tb testing.TB, target, name string, values ...any) {
	tb.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case bool:
			fmt.Fprintf(&b, "bool(%t)\n", v)
		case int:
			fmt.Fprintf(&b, "int(%d)\n", v)
		case int64:
			fmt.Fprintf(&b, "int64(%d)\n", v)
		case uint64:
			fmt.Fprintf(&b, "uint64(%d)\n", v)
		default:
			tb.Fatalf("fuzzseed: %T is not a fuzz argument type", v)
		}
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}
