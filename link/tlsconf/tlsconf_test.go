package tlsconf

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
)

// handshake runs a TLS handshake over a real TCP connection between a
// relay configured by server and a dialer configured by client, and
// returns the identity the relay verified, or the dialer's error.
func handshake(t *testing.T, server, client *tls.Config) (peer string, err error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ForLink(server))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil {
			got <- ""
			return
		}
		cs := tc.ConnectionState()
		got <- PeerID(&cs)
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), ForLink(client))
	if err != nil {
		<-got
		return "", err
	}
	defer c.Close()
	return <-got, nil
}

// Certificates from InitCA let a child relay verify its parent and prove
// its own id with a client certificate; without the CA the dialer refuses
// the relay.
func TestInitCACertificatesAuthenticateBothEnds(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitCA(dir, []string{"main", "county-a"}, nil); err != nil {
		t.Fatal(err)
	}
	f := func(name string) string { return filepath.Join(dir, name) }
	server, err := Server(f("main.crt"), f("main.key"), f("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	child, err := Client("https://127.0.0.1:7100", ClientOptions{CAFile: f("ca.crt"), CertFile: f("county-a.crt"), KeyFile: f("county-a.key")})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := handshake(t, server, child)
	if err != nil || peer != "county-a" {
		t.Fatalf("child with certificate: peer %q, err %v; want county-a", peer, err)
	}
	anon, err := Client("https://127.0.0.1:7100", ClientOptions{CAFile: f("ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	if peer, err := handshake(t, server, anon); err != nil || peer != "" {
		t.Fatalf("client without certificate: peer %q, err %v; want accepted without identity", peer, err)
	}
	system, err := Client("https://127.0.0.1:7100", ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, server, system); err == nil {
		t.Fatal("a dialer without the network's CA accepted the relay's certificate")
	}
}

func TestClientOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		o         ClientOptions
		want      string // in the error; "" for none and no TLS
	}{
		{"plain http needs no TLS", "http://127.0.0.1:7100", ClientOptions{}, ""},
		{"CA with http URL", "http://127.0.0.1:7100", ClientOptions{CAFile: "ca.crt"}, "use https://"},
		{"missing CA file", "https://127.0.0.1:7100", ClientOptions{CAFile: filepath.Join(t.TempDir(), "none.crt")}, "CA file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Client(tc.url, tc.o)
			if tc.want == "" {
				if err != nil || c != nil {
					t.Fatalf("got %v, %v; want no TLS and no error", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
