package config

import (
	"errors"
	"fmt"
	"os"
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
	}
	if p := c.Parent; p != nil {
		if err := checkReadable("parent.ca_file", p.CAFile); err != nil {
			return err
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
