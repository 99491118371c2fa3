package relay_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/hello"
	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/auth"
	"github.com/medrelay/medrelay/relay/config"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// secured is a main relay with TLS and auth, and the files around it.
type secured struct {
	dir, ca, creds string
	main           *relay.Relay
}

// startSecuredMain starts main with TLS (a CA made by tlsconf.InitCA)
// and auth on, with an empty credentials file that add fills.
func startSecuredMain(t *testing.T, change func(*config.Config)) *secured {
	t.Helper()
	dir := t.TempDir()
	s := &secured{dir: dir, ca: filepath.Join(dir, "certs", "ca.crt"), creds: filepath.Join(dir, "creds.txt")}
	if _, err := tlsconf.InitCA(filepath.Join(dir, "certs"), []string{"main"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.creds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.main = startRelayWith(t, "main", "", filepath.Join(dir, "main"), func(c *config.Config) {
		c.TLS = &config.TLS{CertFile: filepath.Join(dir, "certs", "main.crt"), KeyFile: filepath.Join(dir, "certs", "main.key")}
		c.Auth = &config.Auth{CredentialsFile: s.creds}
		if change != nil {
			change(c)
		}
	})
	return s
}

// add makes a credential at main and returns its token.
func (s *secured) add(t *testing.T, id string, role auth.Role, subtree ...string) string {
	t.Helper()
	tok, err := auth.Add(s.creds, id, role, subtree)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dialAs attaches a client to main with a token.
func (s *secured) dialAs(t *testing.T, id, token string, receive bool) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Relay: s.main.URL(), ID: id, Token: token, CAFile: s.ca, Receive: receive, Link: fastLink})
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// claim opens a relay link to main as relayID announcing subtree, with
// token, over transport, and returns the link or the refusal.
func (s *secured) claim(t *testing.T, transport, relayID, token string, subtree ...string) (link.Link, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc, err := tlsconf.Client(s.main.URL(), tlsconf.ClientOptions{CAFile: s.ca})
	if err != nil {
		t.Fatal(err)
	}
	h := s.main.Hello()
	var tr hello.Transport
	for _, x := range h.Transports {
		if x.Name == transport {
			tr = x
		}
	}
	c, _, err := hello.Connect(ctx, s.main.URL(), tr, &pb.Hello{RelayId: relayID, Subtree: subtree, Version: "test"},
		hello.DialOptions{TLS: tc, Token: token, Link: fastLink})
	if err == nil {
		t.Cleanup(func() { c.Close("test done") })
	}
	return c, err
}

// startCountyB starts the real county-b under main with its relay token.
func (s *secured) startCountyB(t *testing.T, token string) *relay.Relay {
	t.Helper()
	return startRelayWith(t, "county-b", s.main.URL(), filepath.Join(s.dir, "county-b"), func(c *config.Config) {
		c.Parent.CAFile, c.Parent.Token = s.ca, token
	})
}

// The probe of issue 12: with auth on and county-b offline, a clinic's
// token claiming a relay subtree that holds county-b is refused over
// every transport, and the real county-b then gets its link and its
// envelopes.
func TestClientTokenCannotOpenARelayLink(t *testing.T) {
	s := startSecuredMain(t, nil)
	clinicX := s.add(t, "clinic-x", auth.RoleClient)
	clinicY := s.add(t, "clinic-y", auth.RoleClient)
	countyB := s.add(t, "county-b", auth.RoleRelay)
	// county-b has been linked before, and is offline now.
	first := s.startCountyB(t, countyB)
	waitFor(t, "county-b linked to main", func() bool { return countyBLinked(s.main) })
	first.Close()
	waitFor(t, "county-b offline", func() bool { return !countyBLinked(s.main) })

	for _, tr := range []string{"http", "tcp"} {
		_, err := s.claim(t, tr, "clinic-x", clinicX, "clinic-x", "county-b")
		if !errors.Is(err, link.ErrRefused) && !strings.Contains(err.Error(), "403") {
			t.Fatalf("%s: a clinic's token opened a relay link (err %v), want a refusal", tr, err)
		}
		if !strings.Contains(err.Error(), "role client") || !strings.Contains(err.Error(), "--role relay") {
			t.Fatalf("%s: refusal %q does not say the credential's role and what would be right", tr, err)
		}
	}
	// The clinic's token opens its own client link as before.
	sender := s.dialAs(t, "clinic-y", clinicY, false)
	if _, err := sender.Send(context.Background(), "county-b/radiology", "consult.request", map[string]string{"study": "1.2.3"}, []byte("body")); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.main.Status().Children {
		if c.ID == "clinic-x" {
			t.Fatalf("main routes through the refused clinic: %+v", c)
		}
	}

	waitFor(t, "the consultation queued for county-b", func() bool { return s.main.Status().Queues["child/county-b"] == 1 })
	nodeB := s.startCountyB(t, countyB)
	waitFor(t, "county-b linked to main", func() bool { return countyBLinked(s.main) })
	var in inbox
	rad := dial(t, nodeB, "radiology", true)
	rad.Handle("", in.handler)
	waitFor(t, "radiology receives the consultation", func() bool { return in.len() == 1 })
	if got := in.envs[0]; got.From.String() == "" || got.Args["study"] != "1.2.3" {
		t.Fatalf("radiology got %+v", got)
	}
}

func countyBLinked(r *relay.Relay) bool {
	for _, c := range r.Status().Children {
		if c.ID == "county-b" && c.Connected {
			return true
		}
	}
	return false
}

// A relay announces only what its credential allows; a false claim that
// was once allowed, and is released, takes its queued envelopes to the
// right route when the real relay links.
func TestRelayAnnouncesOnlyItsSubtreeAndQueuesFollowTheRoute(t *testing.T) {
	s := startSecuredMain(t, nil)
	countyA := s.add(t, "county-a", auth.RoleRelay, "township-a1")
	if _, err := s.claim(t, "tcp", "county-a", countyA, "county-a", "county-b"); err == nil || !strings.Contains(err.Error(), "announced county-b, which its credential does not allow") {
		t.Fatalf("county-a claiming county-b: %v, want a refusal naming county-b", err)
	}
	if _, err := s.claim(t, "tcp", "county-b", countyA, "county-b"); err == nil {
		t.Fatal("county-a's token opened county-b's link")
	}
	// A credential that wrongly allows county-b: the claim is accepted,
	// and envelopes for county-b queue for the false route.
	wrong := s.add(t, "old-b", auth.RoleRelay, "county-b")
	c, err := s.claim(t, "http", "old-b", wrong, "old-b", "county-b")
	if err != nil {
		t.Fatal(err)
	}
	sender := s.dialAs(t, "clinic-y", s.add(t, "clinic-y", auth.RoleClient), false)
	for i := range 3 {
		if _, err := sender.Send(context.Background(), "county-b/radiology", "n", map[string]string{"i": string(rune('0' + i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three envelopes queued for old-b", func() bool { return s.main.Status().Queues["child/old-b"] == 3 })
	c.Close("the false claim is released")
	waitFor(t, "old-b gone", func() bool {
		for _, ch := range s.main.Status().Children {
			if ch.ID == "old-b" && ch.Connected {
				return false
			}
		}
		return true
	})
	nodeB := s.startCountyB(t, s.add(t, "county-b", auth.RoleRelay))
	var in inbox
	rad := dial(t, nodeB, "radiology", true)
	rad.Handle("", in.handler)
	waitFor(t, "radiology receives the three, in order", func() bool { return in.len() == 3 })
	for i, e := range in.envs {
		if e.Args["i"] != string(rune('0'+i)) {
			t.Fatalf("envelope %d is %q: order lost", i, e.Args["i"])
		}
	}
	if n := s.main.Status().Queues["child/old-b"]; n != 0 {
		t.Fatalf("child/old-b still holds %d", n)
	}
}

// Auth without TLS is refused unless allowed, and no dialer sends a token
// to a relay it cannot verify.
func TestTokensOnlyUnderTLS(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{ID: "main", Role: config.RoleMain, DataDir: dir,
		Listen: config.Listen{HTTP: "127.0.0.1:0"}, Auth: &config.Auth{CredentialsFile: filepath.Join(dir, "c")}}
	os.WriteFile(cfg.Auth.CredentialsFile, nil, 0o600)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "auth.allow_plaintext") {
		t.Fatalf("auth without tls: %v, want an error naming auth.allow_plaintext", err)
	}
	cfg.Auth.AllowPlaintext = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	plain := startRelayWith(t, "main", "", filepath.Join(dir, "main"), func(c *config.Config) { c.Auth = cfg.Auth })
	tok, _ := auth.Add(cfg.Auth.CredentialsFile, "clinic-1", auth.RoleClient, nil)
	for _, tr := range []string{"tcp", "http", "quic"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.Dial(ctx, client.Options{Relay: plain.URL(), ID: "clinic-1", Token: tok, Transport: tr})
		cancel()
		if !errors.Is(err, tlsconf.ErrPlaintextToken) {
			t.Fatalf("%s: dial with a token to %s: %v, want ErrPlaintextToken", tr, plain.URL(), err)
		}
		_, _, err = hello.Connect(context.Background(), plain.URL(), hello.Transport{Name: tr, Addr: plain.TCPAddr()},
			&pb.Hello{ClientId: "clinic-1"}, hello.DialOptions{Token: tok})
		if !errors.Is(err, tlsconf.ErrPlaintextToken) {
			t.Fatalf("%s: hello.Connect with a token and no TLS: %v, want ErrPlaintextToken", tr, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Relay: plain.URL(), ID: "clinic-1", Token: tok, AllowPlaintext: true, Link: fastLink})
	if err != nil {
		t.Fatalf("allowed plaintext: %v", err)
	}
	c.Close()
}

// Lines written before roles act as clients, except the relays named
// under auth.relays, which may announce what the config gives them.
func TestLegacyCredentialsWithRelaysNamedInConfig(t *testing.T) {
	var creds string
	s := startSecuredMain(t, func(c *config.Config) {
		creds = c.Auth.CredentialsFile
		c.Auth.Relays = map[string][]string{"county-b": {"township-b1"}}
	})
	tokB, hashB := auth.NewToken()
	tokX, hashX := auth.NewToken()
	if err := os.WriteFile(creds, []byte("county-b "+hashB+"\nclinic-x "+hashX+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.claim(t, "tcp", "clinic-x", tokX, "clinic-x"); err == nil || !strings.Contains(err.Error(), "role client") {
		t.Fatalf("a legacy clinic line as a relay: %v, want a refusal naming the role", err)
	}
	if _, err := s.claim(t, "tcp", "county-b", tokB, "county-b", "township-b9"); err == nil || !strings.Contains(err.Error(), "township-b9") {
		t.Fatalf("a legacy relay announcing what the config does not give it: %v, want a refusal", err)
	}
	if _, err := s.claim(t, "http", "county-b", tokB, "county-b", "township-b1"); err != nil {
		t.Fatalf("a legacy relay named under auth.relays: %v", err)
	}
}
