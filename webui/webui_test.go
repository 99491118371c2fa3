package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func newTestHandler(t *testing.T, auth, public bool) *Handler {
	t.Helper()
	h, err := New(Options{
		Product: "medrelay", Name: "county-a",
		Pages:  []Page{{ID: "network", Title: "Network", Script: "network.js"}},
		Assets: fstest.MapFS{"network.js": {Data: []byte(`ui.page("network", {draw: function () {}});`)}},
		Auth:   auth, Public: public, Events: "/v1/events", Poll: "/v1/network",
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, method, path, remote string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWhoMayOpenTheConsole(t *testing.T) {
	tests := []struct {
		name         string
		auth, public bool
		remote       string
		want         int
	}{
		{"no auth, loopback", false, false, "127.0.0.1:5000", http.StatusOK},
		{"no auth, IPv6 loopback", false, false, "[::1]:5000", http.StatusOK},
		{"no auth, another machine", false, false, "10.1.2.3:5000", http.StatusForbidden},
		{"no auth, ui.public, another machine", false, true, "10.1.2.3:5000", http.StatusOK},
		{"auth, another machine", true, false, "10.1.2.3:5000", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(newTestHandler(t, tt.auth, tt.public), http.MethodGet, "/ui/", tt.remote)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(rec.Body.String(), "ui.public") {
				t.Errorf("the refusal %q does not say how to allow it", rec.Body)
			}
		})
	}
}

func TestServesTheShellLibraryAndPages(t *testing.T) {
	h := newTestHandler(t, true, false)
	tests := []struct {
		path, want string
		status     int
	}{
		{"/ui/", `data-auth="true"`, 200},
		{"/ui/", `<script src="/ui/pages/network.js">`, 200},
		{"/ui/", `href="#network" data-page="network">Network</a>`, 200},
		{"/ui/lib/console.js", "function api(", 200},
		{"/ui/lib/console.css", "--down", 200},
		{"/ui/lib/start.js", "ui.start()", 200},
		{"/ui/pages/network.js", `ui.page("network"`, 200},
		{"/ui/pages/missing.js", "", 404},
		{"/ui/elsewhere", "", 404},
	}
	for _, tt := range tests {
		rec := get(h, http.MethodGet, tt.path, "127.0.0.1:1")
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tt.status || !strings.Contains(string(body), tt.want) {
			t.Errorf("GET %s: %d, want %d with %q", tt.path, rec.Code, tt.status, tt.want)
		}
	}
	if csp := get(h, http.MethodGet, "/ui/", "127.0.0.1:1").Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q does not keep scripts to the console's own files", csp)
	}
	if rec := get(h, http.MethodPost, "/ui/", "127.0.0.1:1"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %d, want 405 (actions go through the JSON API)", rec.Code)
	}
}

func TestNewRefusesAPageWithoutItsScript(t *testing.T) {
	_, err := New(Options{Pages: []Page{{ID: "x", Title: "X", Script: "x.js"}}, Assets: fstest.MapFS{}})
	if err == nil || !strings.Contains(err.Error(), "x.js") {
		t.Fatalf("New: %v, want an error naming x.js", err)
	}
}
