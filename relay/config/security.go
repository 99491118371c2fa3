package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/medrelay/medrelay/envelope"
)

// validateSecurity checks the tls, auth and parent security keys.
func (c *Config) validateSecurity() error {
	if t := c.TLS; t != nil {
		switch {
		case t.CertFile == "":
			return errors.New("tls.cert_file is required when tls is set: the relay's PEM certificate (see medrelay certs init)")
		case t.KeyFile == "":
			return errors.New("tls.key_file is required when tls is set: the relay's PEM private key")
		}
		for key, path := range map[string]string{"tls.cert_file": t.CertFile, "tls.key_file": t.KeyFile, "tls.client_ca_file": t.ClientCAFile} {
			if err := checkReadable(key, path); err != nil {
				return err
			}
		}
	}
	if a := c.Auth; a != nil {
		if a.CredentialsFile == "" {
			return errors.New("auth.credentials_file is required when auth is set: a file made by medrelay credentials add")
		}
		if err := checkReadable("auth.credentials_file", a.CredentialsFile); err != nil {
			return err
		}
		if c.TLS == nil && !a.AllowPlaintext {
			return errors.New("auth is set without tls: tokens would cross the network in the clear; add a tls section (see medrelay certs init), or set auth.allow_plaintext: true on a test bench")
		}
		for id, sub := range a.Relays {
			if !envelope.ValidID(id) {
				return fmt.Errorf("auth.relays: %q is not a relay id ([a-z0-9-], at most 64 characters)", id)
			}
			for _, s := range sub {
				if !envelope.ValidID(s) {
					return fmt.Errorf("auth.relays.%s: %q is not a relay id ([a-z0-9-], at most 64 characters)", id, s)
				}
			}
		}
	}
	if p := c.Parent; p != nil {
		if err := checkReadable("parent.ca_file", p.CAFile); err != nil {
			return err
		}
		if p.Token != "" && strings.HasPrefix(p.URL, "http://") && !p.AllowPlaintext {
			return errors.New("parent.token is set but parent.url is http://: the token would cross the network in the clear; use an https:// parent with parent.ca_file, or set parent.allow_plaintext: true on a test bench")
		}
		if p.RetryPreferred < 0 {
			return errors.New("parent.retry_preferred must not be negative")
		}
	}
	return nil
}

func checkReadable(key, path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s %q cannot be read: %v", key, path, err)
	}
	return nil
}
