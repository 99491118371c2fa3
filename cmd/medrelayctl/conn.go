package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/link/tlsconf"
)

// connFlags are the flags of every command that talks to a relay.
type connFlags struct {
	transport, caFile, token, tokenFile string
	allowPlaintext                      bool
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	cf := addAuthFlags(fs)
	fs.StringVar(&cf.transport, "transport", "auto", "link transport: auto (what the relay prefers), http, tcp or quic")
	return cf
}

// addAuthFlags adds the flags that verify the relay and prove who we are:
// what the admin API's commands take (status, audit, deadletters, files).
func addAuthFlags(fs *flag.FlagSet) *connFlags {
	cf := &connFlags{transport: "auto"}
	fs.StringVar(&cf.caFile, "ca-file", "", "CA certificate that verifies an https:// relay (default: the system roots)")
	fs.StringVar(&cf.token, "token", "", "token for a relay that requires one (the admin API needs role admin); it shows in the process list, so prefer\n$MEDRELAY_TOKEN or --token-file (default: $MEDRELAY_TOKEN)")
	fs.StringVar(&cf.tokenFile, "token-file", "", "read the token from this file (its first line), instead of --token")
	fs.BoolVar(&cf.allowPlaintext, "allow-plaintext", false, "send the token to an http:// relay, in the clear (a test bench whose relay sets auth.allow_plaintext)")
	return cf
}

// check validates the flags once parsed.
func (cf *connFlags) check() error {
	if !slices.Contains([]string{"auto", "http", "tcp", "quic"}, cf.transport) {
		return fmt.Errorf("%w: --transport %q is invalid: use auto, http, tcp or quic", errUsage, cf.transport)
	}
	if cf.tokenFile != "" {
		if cf.token != "" {
			return fmt.Errorf("%w: give --token or --token-file, not both", errUsage)
		}
		b, err := os.ReadFile(cf.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if cf.token = strings.TrimSpace(line); cf.token == "" {
			return fmt.Errorf("--token-file %s: the first line is empty: put the token there", cf.tokenFile)
		}
	}
	if cf.token == "" {
		cf.token = os.Getenv("MEDRELAY_TOKEN")
	}
	return nil
}

// apply sets the SDK options of the flags.
func (cf *connFlags) apply(o client.Options) client.Options {
	o.Transport, o.CAFile, o.Token, o.AllowPlaintext = cf.transport, cf.caFile, cf.token, cf.allowPlaintext
	return o
}

// httpClient returns a client for the relay's admin API at base.
// A token goes only to a verified https:// relay (see --allow-plaintext).
func (cf *connFlags) httpClient(base string) (*http.Client, error) {
	if err := tlsconf.CheckToken(base, cf.token, cf.allowPlaintext); err != nil {
		return nil, fmt.Errorf("%w: %v (--allow-plaintext)", errUsage, err)
	}
	tc, err := tlsconf.Client(base, tlsconf.ClientOptions{CAFile: cf.caFile})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	hc := tlsconf.HTTPClient(tc)
	hc.Timeout = 30 * time.Second
	return hc, nil
}

// authorize sets the token on an admin API request.
func (cf *connFlags) authorize(req *http.Request) {
	if cf.token != "" {
		req.Header.Set("Authorization", "Bearer "+cf.token)
	}
}
