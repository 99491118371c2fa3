package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// The token comes from --token-file's first line, from --token, or from
// $MEDRELAY_TOKEN, in that order of preference in the help; giving both
// flags is a usage error.
func TestTokenFromFileFlagOrEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("  from-file \nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEDRELAY_TOKEN", "from-env")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--token-file", file}, "from-file"},
		{[]string{"--token", "from-flag"}, "from-flag"},
		{nil, "from-env"},
		{[]string{"--token-file", file, "--token", "x"}, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		cf := addConnFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := cf.check()
		if tc.want == "" {
			if err == nil {
				t.Errorf("%v: no error, want a usage error", tc.args)
			}
			continue
		}
		if err != nil || cf.token != tc.want {
			t.Errorf("%v: token %q, %v; want %q", tc.args, cf.token, err, tc.want)
		}
	}
}
