package relay_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay/auth"
	"github.com/medrelay/medrelay/relay/config"
)

// With auth on, the admin API answers only an admin credential (a token,
// or a client certificate whose id has role admin); /healthz and /readyz
// stay open; the file service's store info answers any credential.
func TestAdminAPINeedsTheAdminRole(t *testing.T) {
	s := startSecuredMain(t, func(c *config.Config) { c.TLS.ClientCAFile = filepath.Join(filepath.Dir(c.TLS.CertFile), "ca.crt") })
	clinic := s.add(t, "clinic-1", auth.RoleClient)
	admin := s.add(t, "ops", auth.RoleAdmin)
	// "ops-desk" authenticates by certificate only: "-" instead of a hash.
	certs := filepath.Join(s.dir, "certs")
	if _, err := tlsconf.InitCA(certs, []string{"ops-desk", "clinic-2"}, nil); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(s.creds, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("ops-desk - role=admin\n")
	f.Close()

	tc, err := tlsconf.Client(s.main.URL(), tlsconf.ClientOptions{CAFile: s.ca})
	if err != nil {
		t.Fatal(err)
	}
	plain := tlsconf.HTTPClient(tc)
	withCert := func(id string) *http.Client {
		c := tc.Clone()
		cert, err := tls.LoadX509KeyPair(filepath.Join(certs, id+".crt"), filepath.Join(certs, id+".key"))
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
		return tlsconf.HTTPClient(c)
	}
	do := func(hc *http.Client, method, path string, set func(*http.Request)) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.main.URL()+path, nil)
		set(req)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	none := func(*http.Request) {}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	basic := func(id, tok string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(id, tok) } }

	for _, path := range []string{"/metrics", "/v1/status", "/v1/audit", "/v1/audit/verify", "/v1/deadletters"} {
		if code, body := do(plain, "GET", path, none); code != http.StatusUnauthorized || !strings.Contains(body, "role admin") {
			t.Errorf("%s without a token: %d %q, want 401 saying an admin credential is needed", path, code, body)
		}
		if code, _ := do(plain, "GET", path, bearer("not-a-token")); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d, want 401", path, code)
		}
		if code, body := do(plain, "GET", path, bearer(clinic)); code != http.StatusForbidden || !strings.Contains(body, "clinic-1 has role client") {
			t.Errorf("%s with a client token: %d %q, want 403 naming the role", path, code, body)
		}
		if code, _ := do(withCert("clinic-2"), "GET", path, none); code != http.StatusForbidden {
			t.Errorf("%s with a client's certificate: %d, want 403", path, code)
		}
		for name, set := range map[string]func(*http.Request){"bearer": bearer(admin), "basic": basic("ops", admin)} {
			if code, body := do(plain, "GET", path, set); code != http.StatusOK {
				t.Errorf("%s with the admin token (%s): %d %q, want 200", path, name, code, body)
			}
		}
		if code, body := do(withCert("ops-desk"), "GET", path, none); code != http.StatusOK {
			t.Errorf("%s with the admin's certificate: %d %q, want 200", path, code, body)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/v1/hello"} {
		if code, _ := do(plain, "GET", path, none); code != http.StatusOK {
			t.Errorf("%s without a token: %d, want 200 (open)", path, code)
		}
	}
	// The SDK reads the store info before an upload: any credential.
	if code, _ := do(plain, "GET", "/v1/files/store", none); code != http.StatusUnauthorized {
		t.Errorf("/v1/files/store without a token: %d, want 401", code)
	}
	for name, set := range map[string]func(*http.Request){"client": basic("clinic-1", clinic), "admin": bearer(admin)} {
		if code, body := do(plain, "GET", "/v1/files/store", set); code != http.StatusOK {
			t.Errorf("/v1/files/store with the %s token: %d %q, want 200", name, code, body)
		}
	}
	// Changes: replay and file listing, gc need the admin role, wherever
	// the caller is (this test calls from loopback, which no longer counts).
	for _, c := range []struct{ method, path string }{{"POST", "/v1/deadletters/1/replay"}, {"GET", "/v1/files/list"}, {"POST", "/v1/files/gc"}} {
		if code, _ := do(plain, c.method, c.path, none); code != http.StatusUnauthorized && code != http.StatusForbidden {
			t.Errorf("%s %s without a token from loopback: %d, want 401 or 403", c.method, c.path, code)
		}
		if code, _ := do(plain, c.method, c.path, basic("clinic-1", clinic)); code != http.StatusForbidden {
			t.Errorf("%s %s with a client token: %d, want 403", c.method, c.path, code)
		}
		if code, body := do(plain, c.method, c.path, bearer(admin)); code == http.StatusUnauthorized || code == http.StatusForbidden {
			t.Errorf("%s %s with the admin token: %d %q, want it allowed", c.method, c.path, code, body)
		}
	}
}
