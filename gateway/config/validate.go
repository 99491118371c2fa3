package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
)

var (
	validID   = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	validAddr = regexp.MustCompile(`^[a-z0-9-]{1,64}/[a-z0-9-]{1,64}$`)
)

// Validate checks every key and returns all problems at once, each naming
// its key and what would be right.
func (c *Config) Validate() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if !validID.MatchString(c.ID) {
		bad("id: %q is invalid: want lower-case letters, digits and '-', at most 64 characters", c.ID)
	}
	if c.Relay.URL == "" {
		bad("relay.url is required: the relay's HTTP address, like http://127.0.0.1:7300")
	} else if err := parseURL("relay.url", c.Relay.URL); err != nil {
		bad("%v", err)
	}
	switch c.Relay.Transport {
	case "", "auto", "http", "tcp", "quic":
	default:
		bad("relay.transport: %q is invalid: want auto, http, tcp or quic", c.Relay.Transport)
	}
	if c.DataDir == "" {
		bad("data_dir is required: the folder for the job database and staged instances")
	}
	checkListen(bad, "dicom.listen", c.DICOM.Listen)
	checkListen(bad, "http", c.HTTP)
	if len(c.DICOM.AET) == 0 {
		bad("dicom.aet is required: the AE title (or a list of titles) this gateway answers to")
	}
	for _, t := range c.DICOM.AET {
		checkAET(bad, "dicom.aet", t)
	}
	seen := map[string]bool{}
	for i, p := range c.Peers {
		key := fmt.Sprintf("peers[%d]", i)
		checkAET(bad, key+".aet", p.AET)
		if seen[strings.ToUpper(p.AET)] {
			bad("%s.aet: %q is listed twice; each peer needs its own title", key, p.AET)
		}
		seen[strings.ToUpper(p.AET)] = true
		if p.Host == "" {
			bad("%s.host is required (a host name or address)", key)
		}
		if p.Port <= 0 || p.Port > 65535 {
			bad("%s.port: %d is invalid: want 1..65535", key, p.Port)
		}
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if !validAddr.MatchString(r.To) {
			bad("%s.to: %q is invalid: want the remote gateway's relay address, like county-b/gw-b", key, r.To)
		}
		if r.Destination != "" {
			checkAET(bad, key+".destination", r.Destination)
		}
		for _, t := range r.Match.CalledAET {
			checkAET(bad, key+".match.called_aet", t)
		}
		for _, t := range r.Match.CallingAET {
			checkAET(bad, key+".match.calling_aet", t)
		}
	}
	if d := c.Deliver.DefaultDestination; d != "" {
		if _, ok := c.Peer(d); !ok {
			bad("deliver.default_destination: %q is not in peers; add it there (aet, host, port)", d)
		}
	}
	if c.Deliver.Attempts < 0 || c.Deliver.Downloads < 0 || c.FileStore.Uploads < 0 {
		bad("deliver.attempts, deliver.downloads and filestore.uploads must not be negative")
	}
	if c.StableAfter < 0 || c.Retention < 0 || c.Deliver.MaxBackoff < 0 || c.Deliver.RequestTimeout < 0 {
		bad("stable_after, retention, deliver.max_backoff and deliver.request_timeout must not be negative")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func checkListen(bad func(string, ...any), key, v string) {
	if v == "" {
		bad("%s is required: HOST:PORT to listen on", key)
		return
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		bad("%s: %q is not HOST:PORT (like 127.0.0.1:11112)", key, v)
	}
}

// checkAET accepts 1-16 printable characters, no backslash, not all spaces.
func checkAET(bad func(string, ...any), key, t string) {
	if strings.TrimSpace(t) == "" || len(t) > 16 || strings.ContainsAny(t, "\\") {
		bad("%s: %q is not an AE title: want 1 to 16 characters, no backslash", key, t)
		return
	}
	for _, r := range t {
		if r < 0x20 || r > 0x7e {
			bad("%s: %q is not an AE title: want printable ASCII characters", key, t)
			return
		}
	}
}
