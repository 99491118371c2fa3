// Package hello describes a relay to those who connect to it (GET
// /v1/hello) and connects them to it: a dialer reads the relay's hello,
// picks the transport the relay prefers unless the dialer pins one (a
// Chooser falls back quic → tcp → http after repeated failures and
// returns to the preferred one later), and opens a link over TCP, QUIC
// or HTTP (Connect).
package hello

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Path is where a relay serves its hello.
const Path = "/v1/hello"

// Hello is the JSON a relay serves at /v1/hello.
type Hello struct {
	ID         string      `json:"id"`
	Role       string      `json:"role"`
	Version    string      `json:"version"`
	Transports []Transport `json:"transports"`
	Prefer     string      `json:"prefer"`
	// TLS is true when every listener of the relay uses TLS.
	TLS bool `json:"tls,omitempty"`
	// Auth is true when the relay requires a token or client certificate.
	Auth bool `json:"auth,omitempty"`
	// MaxBodyBytes is the largest envelope body the relay accepts
	// (limits.max_body_bytes), so senders can refuse a larger one at once.
	MaxBodyBytes int `json:"max_body_bytes,omitempty"`
}

// Transport is one link transport a relay offers.
type Transport struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

// ErrNoTransport reports that the relay offers no transport the dialer can use.
var ErrNoTransport = errors.New("no usable transport")

// Fetch reads the hello of the relay at baseURL (http://host:port).
func Fetch(ctx context.Context, client *http.Client, baseURL string) (*Hello, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+Path, nil)
	if err != nil {
		return nil, fmt.Errorf("relay URL %q: %w", baseURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", Path, resp.Status)
	}
	var h Hello
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h); err != nil {
		return nil, fmt.Errorf("decode hello from %s: %w", baseURL, err)
	}
	return &h, nil
}

// Choose returns the transport to use: pin when it is not "auto" (or
// empty), else the relay's preferred one, else the first it offers.
func (h *Hello) Choose(pin string) (Transport, error) {
	want := pin
	if want == "" || want == "auto" {
		want = h.Prefer
	}
	for _, t := range h.Transports {
		if t.Name == want || want == "" {
			return t, nil
		}
	}
	if pin == "" || pin == "auto" {
		if len(h.Transports) > 0 {
			return h.Transports[0], nil
		}
		return Transport{}, fmt.Errorf("%w: relay %s offers none", ErrNoTransport, h.ID)
	}
	return Transport{}, fmt.Errorf("%w: relay %s does not offer %s (it offers %s)", ErrNoTransport, h.ID, pin, h.names())
}

func (h *Hello) names() string {
	var n []string
	for _, t := range h.Transports {
		n = append(n, t.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}
