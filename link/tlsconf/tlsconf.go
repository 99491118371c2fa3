// Package tlsconf builds the TLS configurations of medrelay's listeners
// and dialers from PEM files, and makes a small CA with per-relay
// certificates for test and pilot networks (medrelay certs init).
//
// It does not listen or dial; the relay and the dialers in package hello
// use what it returns.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// ALPN protocol names, so a TLS port is never mistaken for another protocol.
const (
	ALPNLink = "medrelay-link/1" // TCP and QUIC links
)

// Server returns the TLS configuration of a relay's listeners. With
// clientCAFile, client certificates signed by that CA are verified when
// presented (a client without one authenticates with a token).
func Server(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls.cert_file/tls.key_file: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		pool, err := LoadPool(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.client_ca_file: %w", err)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return c, nil
}

// LoadPool reads PEM certificates into a pool.
func LoadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// ClientOptions say how a dialer verifies a relay and proves itself.
type ClientOptions struct {
	// CAFile verifies the relay's certificate (default: the system roots).
	CAFile string
	// CertFile and KeyFile, when set, are presented as a client certificate.
	CertFile, KeyFile string
}

// Client returns the TLS configuration for dialing the relay at baseURL,
// or nil when baseURL is http:// (no TLS). The server name is the URL's
// host, so a relay's certificate must cover the name its dialers use.
func Client(baseURL string, o ClientOptions) (*tls.Config, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("relay URL %q: %w", baseURL, err)
	}
	if u.Scheme != "https" {
		if o.CAFile != "" {
			return nil, fmt.Errorf("a CA file is set but the relay URL %q is not https://: use https:// to verify the relay", baseURL)
		}
		return nil, nil
	}
	c := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		if c.RootCAs, err = LoadPool(o.CAFile); err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// ForLink returns a copy of c for a TCP or QUIC link: TLS 1.3 and the
// link's ALPN name. A nil c (no TLS) gives nil.
func ForLink(c *tls.Config) *tls.Config {
	if c == nil {
		return nil
	}
	c = c.Clone()
	c.MinVersion = tls.VersionTLS13
	c.NextProtos = []string{ALPNLink}
	return c
}

// PeerID returns the identity a verified client certificate proves: its
// common name. "" when there is none.
func PeerID(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].Subject.CommonName
}

// ErrNoTLS reports a transport that needs TLS where none is configured.
var ErrNoTLS = errors.New("no TLS configuration")

// FilesClient returns an HTTP client for a relay's file service at
// baseURL. File transfers may also go to presigned URLs on the object
// store, another host with, often, a public certificate: so the server
// name is each request's own host, and o.CAFile is added to the system
// roots rather than replacing them. The client has no overall timeout
// (bodies are large); callers cancel through the request's context.
func FilesClient(baseURL string, o ClientOptions) (*http.Client, error) {
	tc, err := Client(baseURL, o)
	if err != nil || tc == nil {
		return &http.Client{}, err
	}
	tc.ServerName = ""
	if o.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		data, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool.AppendCertsFromPEM(data)
		tc.RootCAs = pool
	}
	return HTTPClient(tc), nil
}

// HTTPClient returns a client for a relay's HTTP address, the one builder
// of HTTP clients for links, hellos and files: HTTP/2 over TLS when tc is
// set, no overall timeout (long polls and transfers set their own).
func HTTPClient(tc *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}}
}

// ErrPlaintextToken refuses to send a token where TLS does not verify the
// server first.
var ErrPlaintextToken = errors.New("a token is never sent to a relay whose certificate is not verified")

// CheckToken returns ErrPlaintextToken, with what would be right, when a
// token would go to the relay at baseURL without TLS (an http:// URL),
// unless allowPlaintext (a test bench whose relay sets
// auth.allow_plaintext) says to send it in the clear.
func CheckToken(baseURL, token string, allowPlaintext bool) error {
	if token == "" || allowPlaintext {
		return nil
	}
	if u, err := url.Parse(baseURL); err == nil && u.Scheme == "https" {
		return nil
	}
	return fmt.Errorf("%w: %s is not https://; use the relay's https:// URL (with its CA file), or allow plaintext on a test bench", ErrPlaintextToken, baseURL)
}
