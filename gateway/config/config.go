// Package config reads a gateway's YAML configuration (dicomgw serve
// --config FILE). Decoding is strict: an unknown key is an error naming the
// key and its line. Validation names the key that is wrong and what would be
// right. Defaults are filled in after validation, in one place (Defaults).
//
// It does not open anything: addresses, peers and the relay are only
// checked for form here.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/medrelay/medrelay/internal/yamlconf"
	"gopkg.in/yaml.v3"
)

// Defaults for keys that may be left out.
const (
	DefaultStableAfter    = 10 * time.Second
	DefaultDeliverAttempt = 5
	DefaultMaxBackoff     = 30 * time.Second
	DefaultUploads        = 8
	DefaultDownloads      = 4
	DefaultRequestTimeout = 2 * time.Minute
)

// Config is one gateway's configuration.
type Config struct {
	// ID is the gateway's client id at its relay ([a-z0-9-], at most 64).
	ID    string `yaml:"id"`
	Relay Relay  `yaml:"relay"`
	// DataDir holds the job database (gateway.db) and staged instances.
	DataDir string `yaml:"data_dir"`
	DICOM   DICOM  `yaml:"dicom"`
	// Peers are the DICOM nodes this gateway talks to (its AE registry).
	Peers []Peer `yaml:"peers"`
	// Routes say where a received study goes; the first match wins.
	Routes  []Route `yaml:"routes"`
	Deliver Deliver `yaml:"deliver"`
	// StableAfter: a study is complete after this long with no new
	// instance (default 10s).
	StableAfter time.Duration `yaml:"stable_after"`
	// HTTP is the address of the JSON API, /healthz, /readyz, /metrics.
	HTTP string `yaml:"http"`
	// HTTPTokens are more tokens the HTTP API accepts besides relay.token
	// (for example the operators' or a monitoring system's); with neither,
	// the API is open to whoever reaches the http address.
	HTTPTokens []string  `yaml:"http_tokens"`
	FileStore  FileStore `yaml:"filestore"`
	// Retention is how long staged copies are kept after the receipt
	// (default 0: removed at once).
	Retention time.Duration `yaml:"retention"`
	// Worklist hosts the consultation worklist (UPS-RS under /dicom-web on
	// the http address); off unless enabled.
	Worklist Worklist `yaml:"worklist"`
}

// Worklist configures the DICOM UPS worklist (docs/worklist.md).
type Worklist struct {
	Enabled bool `yaml:"enabled"`
	// Retention bounds how long undelivered events and finished
	// workitems are kept (default 168h).
	Retention time.Duration `yaml:"retention"`
}

// DefaultWorklistRetention is worklist.retention when left out.
const DefaultWorklistRetention = 168 * time.Hour

// TokenEnv names the environment variable that gives relay.token when
// the file leaves it out (as medrelayctl's and dicomgw's --token default).
const TokenEnv = "MEDRELAY_TOKEN"

// Relay is how the gateway reaches its relay, as medrelayctl does.
type Relay struct {
	URL       string `yaml:"url"`
	Transport string `yaml:"transport"` // auto (default) | http | tcp | quic
	CAFile    string `yaml:"ca_file"`
	// Token is the gateway's credential at its relay (role client); Load
	// takes it from $MEDRELAY_TOKEN when the file has none.
	Token string `yaml:"token"`
	// AllowPlaintext sends Token to an http:// relay, in the clear: only
	// for a test bench whose relay sets auth.allow_plaintext.
	AllowPlaintext bool `yaml:"allow_plaintext"`

	tokenFromEnv bool
}

// DICOM is the gateway's own DICOM node.
type DICOM struct {
	Listen string `yaml:"listen"`
	// AET is the title (or titles) answered; the first is the gateway's
	// own title (its calling title, and the C-MOVE destination of pulls).
	AET AETList `yaml:"aet"`
}

// AETList is one AE title or a YAML list of them.
type AETList []string

// UnmarshalYAML accepts a scalar or a sequence.
func (l *AETList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = AETList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: dicom.aet: want one AE title or a list of them", n.Line)
	}
	*l = s
	return nil
}

// Peer is a DICOM node in the AE registry.
type Peer struct {
	AET  string `yaml:"aet"`
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
}

// Addr is host:port.
func (p Peer) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Route sends the studies that match to a remote gateway.
type Route struct {
	Match Match `yaml:"match"`
	// To is the remote gateway's relay address, relay/client.
	To string `yaml:"to"`
	// Destination is an AE title in the remote gateway's peers (default:
	// the remote's deliver.default_destination).
	Destination string `yaml:"destination"`
	// CompleteOnRelease: the study is complete when the sending
	// association is released.
	CompleteOnRelease bool `yaml:"complete_on_release"`
}

// Match selects associations and instances; every condition given must
// hold (each lists allowed values; any of them).
type Match struct {
	CalledAET  AETList `yaml:"called_aet"`
	CallingAET AETList `yaml:"calling_aet"`
	Modality   AETList `yaml:"modality"`
}

// Matches reports whether the route applies.
func (m Match) Matches(called, calling, modality string) bool {
	return anyOf(m.CalledAET, called) && anyOf(m.CallingAET, calling) && anyOf(m.Modality, modality)
}

func anyOf(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(v)) {
			return true
		}
	}
	return false
}

// Deliver is what the gateway does with studies it receives.
type Deliver struct {
	// DefaultDestination is the peer studies go to when the sender names none.
	DefaultDestination string `yaml:"default_destination"`
	// Attempts per instance before it is reported failed (default 5).
	Attempts int `yaml:"attempts"`
	// MaxBackoff caps the pause between attempts (default 30s; it starts
	// at 1s and doubles).
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Downloads in parallel per gateway (default 4).
	Downloads int `yaml:"downloads"`
	// RequestTimeout: instances asked again from the sender (reconciliation)
	// that have not come after this long are reported failed (default 2m).
	RequestTimeout time.Duration `yaml:"request_timeout"`
}

// FileStore tunes how instances travel through the relay's file service.
type FileStore struct {
	// Proxy streams through the relay even when it offers direct mode.
	Proxy bool `yaml:"proxy"`
	// Uploads in parallel per gateway (default 4).
	Uploads int `yaml:"uploads"`
}

// Load reads and parses the file at path; relay.token comes from
// $MEDRELAY_TOKEN when the file has none.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := parse(data, os.Getenv(TokenEnv))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes strictly, validates and fills in defaults.
func Parse(data []byte) (*Config, error) { return parse(data, "") }

func parse(data []byte, envToken string) (*Config, error) {
	var c Config
	if err := yamlconf.Decode(data, &c, decodeOptions); err != nil {
		return nil, err
	}
	if c.Relay.Token == "" && envToken != "" {
		c.Relay.Token, c.Relay.tokenFromEnv = envToken, true
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.Defaults()
	return &c, nil
}

// decodeOptions are what internal/yamlconf needs to know of a gateway's file.
var decodeOptions = yamlconf.Options{
	Empty: "config is empty: at least id, relay.url, data_dir, dicom.listen, dicom.aet and http are required",
}

// Defaults fills in what was left out.
func (c *Config) Defaults() {
	if c.StableAfter == 0 {
		c.StableAfter = DefaultStableAfter
	}
	if c.Relay.Transport == "" {
		c.Relay.Transport = "auto"
	}
	if c.Deliver.Attempts == 0 {
		c.Deliver.Attempts = DefaultDeliverAttempt
	}
	if c.Deliver.MaxBackoff == 0 {
		c.Deliver.MaxBackoff = DefaultMaxBackoff
	}
	if c.Deliver.Downloads == 0 {
		c.Deliver.Downloads = DefaultDownloads
	}
	if c.Deliver.RequestTimeout == 0 {
		c.Deliver.RequestTimeout = DefaultRequestTimeout
	}
	if c.FileStore.Uploads == 0 {
		c.FileStore.Uploads = DefaultUploads
	}
	if c.Worklist.Retention == 0 {
		c.Worklist.Retention = DefaultWorklistRetention
	}
}

// APITokens are the tokens the HTTP API accepts: relay.token and
// http_tokens (none: the API needs no token).
func (c *Config) APITokens() []string {
	var out []string
	if c.Relay.Token != "" {
		out = append(out, c.Relay.Token)
	}
	return append(out, c.HTTPTokens...)
}

// OwnAET is the gateway's own title: the first of dicom.aet.
func (c *Config) OwnAET() string { return c.DICOM.AET[0] }

// Answers reports whether the gateway answers a called title: one of
// dicom.aet or a route's match.called_aet.
func (c *Config) Answers(called string) bool {
	if anyOf(c.DICOM.AET, called) {
		return true
	}
	for _, r := range c.Routes {
		if len(r.Match.CalledAET) > 0 && anyOf(r.Match.CalledAET, called) {
			return true
		}
	}
	return false
}

// Peer finds a peer by title.
func (c *Config) Peer(aet string) (Peer, bool) {
	for _, p := range c.Peers {
		if strings.EqualFold(p.AET, strings.TrimSpace(aet)) {
			return p, true
		}
	}
	return Peer{}, false
}

// Route returns the first route matching an instance, or false.
func (c *Config) Route(called, calling, modality string) (Route, bool) {
	for _, r := range c.Routes {
		if r.Match.Matches(called, calling, modality) {
			return r, true
		}
	}
	return Route{}, false
}

// ParseURL checks a URL key.
func parseURL(key, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q is not a URL; want http://HOST:PORT or https://HOST:PORT", key, v)
	}
	return nil
}
