package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/medrelay/medrelay/envelope"
)

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("medrelayctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags and checks the required ones.
func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (flags are written --name value)", errUsage, fs.Arg(0))
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			return fmt.Errorf("%w: --%s is required (%s)", errUsage, name, fs.Lookup(name).Usage)
		}
	}
	return nil
}

func checkID(id string) error {
	if !envelope.ValidID(id) {
		return fmt.Errorf("%w: --id %q is invalid: use lower-case letters, digits and '-', at most 64 characters", errUsage, id)
	}
	return nil
}

// argsFlag collects repeated --arg k=v.
type argsFlag map[string]string

func (a argsFlag) String() string { return "" }

func (a argsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	a[k] = v
	return nil
}

// sinceFlag accepts a duration back from now (1h) or an RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: --since %q is invalid: use a duration like 1h or a time like 2026-01-02T15:04:05Z", errUsage, s)
}
