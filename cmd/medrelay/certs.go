package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/link/tlsconf"
)

// runCerts: medrelay certs init --dir DIR --relays a,b [--hosts h1,h2]
func runCerts(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "init" {
		return fmt.Errorf("%w: want medrelay certs init --dir DIR --relays main,county-a,... [--hosts NAME,...]", errUsage)
	}
	fs := newFlags("certs init", stderr)
	dir := fs.String("dir", "", "directory for ca.crt, ca.key and RELAY.crt, RELAY.key (required)")
	relays := fs.String("relays", "", "comma-separated relay ids, like main,county-a (required)")
	hosts := fs.String("hosts", "", "extra comma-separated DNS names or IP addresses for every certificate")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *dir == "" || *relays == "" {
		return fmt.Errorf("%w: --dir and --relays are required", errUsage)
	}
	ids := splitList(*relays)
	for _, id := range ids {
		if !envelope.ValidID(id) {
			return fmt.Errorf("%w: --relays: %q is not a relay id ([a-z0-9-], at most 64 characters)", errUsage, id)
		}
	}
	files, err := tlsconf.InitCA(*dir, ids, splitList(*hosts))
	if err != nil {
		return fmt.Errorf("certs init: %w", err)
	}
	for _, f := range files {
		fmt.Fprintln(stdout, "wrote", f)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
