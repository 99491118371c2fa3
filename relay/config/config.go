// Package config reads and validates a relay's YAML configuration file.
//
// Decoding is strict: an unknown key is an error that names the key and its
// line. Validation names the key that is wrong and what would be right. The
// package does not start anything; relay.New turns a Config into a relay.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/internal/yamlconf"
	"github.com/medrelay/medrelay/link/wire"
)

// Defaults for the limits section, defined by the protocol packages.
const (
	DefaultMaxFrameBytes = wire.DefaultMaxFrame
	DefaultMaxBodyBytes  = envelope.DefaultMaxBody
	DefaultMaxTTL        = envelope.DefaultMaxTTL

	DefaultMaxHelloBytes            = 64 << 10
	DefaultMaxFilePutBytes          = 64 << 20
	DefaultMaxConnections           = 4096
	DefaultMaxConnectionsPerAddress = 256
	DefaultHTTPIdleTimeout          = 60 * time.Second
	DefaultHTTPBodyTimeout          = 30 * time.Second
)

// MaxClockSkew is how far in the future an envelope id's time (UUIDv7)
// may lie, by the relay's clock: senders' clocks differ a little. An id
// dated later is refused, as is one older than limits.max_ttl; a relay
// remembers ids for max_ttl plus this skew after receiving them, so any
// retransmission it accepts is recognised.
const MaxClockSkew = 5 * time.Minute

// Roles a relay can have.
const (
	RoleMain = "main"
	RoleNode = "node"
)

// Config is a relay's configuration file. Keys are contracts: scripts and
// operators depend on their names.
type Config struct {
	// ID names the relay in addresses (relay/client). Required, [a-z0-9-]{1,64}.
	ID string `yaml:"id"`
	// Role is main (the root of the tree) or node.
	Role string `yaml:"role"`
	// DataDir holds the relay's bbolt file and intake journal. Created
	// when missing.
	DataDir string `yaml:"data_dir"`
	Listen  Listen `yaml:"listen"`
	// Parent is required for nodes and forbidden for main.
	Parent *Parent `yaml:"parent"`
	// Shortcut (nodes only, default false) delivers traffic whose target
	// lies in this node's subtree without the trip to main, and sends main
	// an audit record instead. Without it everything goes through main.
	Shortcut bool `yaml:"shortcut"`
	// IntakeJournal (default true) acknowledges a client's batch once the
	// intake journal in data_dir holds it (one fdatasync), and applies it
	// to the bbolt file with the next commit. false acknowledges only
	// after the bbolt commit, which takes two fdatasyncs.
	IntakeJournal *bool  `yaml:"intake_journal"`
	Limits        Limits `yaml:"limits"`
	// FileStore holds the files attached to envelopes; nil uses the parent's.
	FileStore *FileStore `yaml:"filestore"`
	// TLS, when present, puts every listener (HTTP, TCP, QUIC) under TLS.
	TLS *TLS `yaml:"tls"`
	// Auth, when present, makes every client and child relay authenticate.
	Auth *Auth `yaml:"auth"`
	// UI configures the web console at /ui/.
	UI UI `yaml:"ui"`
}

// UI configures the relay's web console (served at /ui/ on listen.http).
type UI struct {
	// Public serves the console to other machines when auth is off
	// (default false: without auth, only to the relay's own machine).
	// With auth on, the console is served to anyone, and every API call
	// it makes needs an admin token.
	Public bool `yaml:"public"`
}

// Listen holds the relay's listening addresses.
type Listen struct {
	// HTTP serves /v1/hello, the admin API and the HTTP link. Required.
	HTTP string `yaml:"http"`
	// TCP is the optional TCP link listener.
	TCP string `yaml:"tcp"`
	// QUIC is the optional QUIC link listener (UDP).
	QUIC string `yaml:"quic"`
	// Prefer is the transport /v1/hello offers first: http, tcp or quic.
	// Default: tcp when a TCP listener is configured, else http.
	Prefer string `yaml:"prefer"`
}

// TLS names the relay's certificate. See package tlsconf.
type TLS struct {
	// CertFile and KeyFile are the relay's PEM certificate and key. Required.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, also accepts client certificates signed by
	// this CA: a certificate whose common name is the client or relay id
	// authenticates it without a token.
	ClientCAFile string `yaml:"client_ca_file"`
}

// Auth configures authentication of clients, child relays and admins.
type Auth struct {
	// CredentialsFile holds one "ID SHA256-HEX role=ROLE [subtree=...]"
	// line per client, child relay or admin (see medrelay credentials
	// add). Re-read when it changes.
	CredentialsFile string `yaml:"credentials_file"`
	// Relays names the child relays among lines written before roles
	// ("ID SHA256-HEX", which are otherwise clients), each with the relays
	// below it that it may announce: county-a: [township-a1].
	Relays map[string][]string `yaml:"relays"`
	// AllowPlaintext accepts auth without tls (tokens then cross the
	// network in the clear): for a test bench on one machine only.
	AllowPlaintext bool `yaml:"allow_plaintext"`
}

// Parent tells a node where its parent relay is.
type Parent struct {
	// URL is the parent's HTTP address, e.g. http://127.0.0.1:7000.
	URL string `yaml:"url"`
	// Transport is auto (use what the parent prefers, falling back quic →
	// tcp → http after repeated failures) or http, tcp or quic. Default auto.
	Transport string `yaml:"transport"`
	// CAFile verifies the parent's certificate (default: the system roots).
	CAFile string `yaml:"ca_file"`
	// Token authenticates this node to its parent (see medrelay credentials).
	Token string `yaml:"token"`
	// RetryPreferred is how often a node on a fallback transport tries the
	// parent's preferred one again (default 5m).
	RetryPreferred time.Duration `yaml:"retry_preferred"`
	// AllowPlaintext sends token to an http:// parent, in the clear: for
	// a test bench whose parent sets auth.allow_plaintext.
	AllowPlaintext bool `yaml:"allow_plaintext"`
}

// Limits bound what the relay accepts. Zero values mean the defaults.
type Limits struct {
	// MaxFrameBytes bounds one link frame (default 4 MiB). A longer frame
	// closes the link before anything is allocated for it.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// MaxBodyBytes bounds an envelope's body (default 1 MiB).
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxTTL bounds how long an envelope may live (default 168h). Envelopes
	// without expires_at get this TTL; an envelope whose id is older is
	// refused, and dedupe records are kept this long (plus MaxClockSkew)
	// after an envelope was received.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// MaxFilePutBytes bounds the body of one PUT to the file service (an
	// object, or one part of a multipart upload; default 64 MiB, four
	// times the SDK's part size).
	MaxFilePutBytes int64 `yaml:"max_file_put_bytes"`
	// MaxFileBytesPerCaller bounds what one client may upload through this
	// relay's file service in 24 hours, counted from its PUTs (0, the
	// default: no bound). Uploads by presigned URLs straight to the
	// storage are not counted: bound those in the storage.
	MaxFileBytesPerCaller int64 `yaml:"max_file_bytes_per_caller"`
	// MaxHelloBytes bounds a link's first frame, read before the peer is
	// admitted (default 64 KiB): an unauthenticated peer makes the relay
	// allocate no more than this.
	MaxHelloBytes int `yaml:"max_hello_bytes"`
	// MaxConnections bounds the open TCP and QUIC link connections and
	// HTTP connections together (default 4096); more are closed at once.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress bounds them per source IP address
	// (default 256).
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// HTTPIdleTimeout closes an idle keep-alive HTTP connection (default 60s).
	HTTPIdleTimeout time.Duration `yaml:"http_idle_timeout"`
	// HTTPBodyTimeout bounds reading a request's headers and body
	// (default 30s); long polls keep their own deadline for the answer.
	HTTPBodyTimeout time.Duration `yaml:"http_body_timeout"`
}

// Transports a relay can offer or a link can use.
var (
	ListenTransports = []string{"http", "tcp", "quic"}
	ParentTransports = []string{"auto", "http", "tcp", "quic"}
)

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes strictly and validates a configuration, and fills in defaults.
func Parse(data []byte) (*Config, error) {
	var c Config
	if err := yamlconf.Decode(data, &c, decodeOptions); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.fillDefaults()
	return &c, nil
}

// decodeOptions are what internal/yamlconf needs to know of a relay's file.
var decodeOptions = yamlconf.Options{
	Empty:   "config is empty: at least id, role, data_dir and listen.http are required",
	Section: section,
}

// section names the section a config type decodes.
func section(goType string) string {
	switch goType {
	case "config.Listen":
		return "listen"
	case "config.Parent":
		return "parent"
	case "config.Limits":
		return "limits"
	case "config.TLS":
		return "tls"
	case "config.Auth":
		return "auth"
	case "config.FileStore":
		return "filestore"
	case "config.UI":
		return "ui"
	}
	return strings.ToLower(strings.TrimPrefix(goType, "config."))
}

// Validate checks every key and returns the first problem, naming the key.
func (c *Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("id is required: a name like county-a ([a-z0-9-], at most 64 characters)")
	case !envelope.ValidID(c.ID):
		return fmt.Errorf("id %q is invalid: use lower-case letters, digits and '-', at most 64 characters", c.ID)
	case c.Role != RoleMain && c.Role != RoleNode:
		return fmt.Errorf("role %q is invalid: use main or node", c.Role)
	case c.DataDir == "":
		return errors.New("data_dir is required: the directory for the relay's queue file")
	}
	if err := c.Listen.validate(); err != nil {
		return err
	}
	switch {
	case c.Role == RoleMain && c.Shortcut:
		return errors.New("shortcut applies to nodes only: main routes everything itself")
	case c.Role == RoleMain && c.Parent != nil:
		return errors.New("parent must not be set when role is main: main is the root of the tree")
	case c.Role == RoleNode && c.Parent == nil:
		return errors.New("parent is required when role is node: set parent.url to the parent's HTTP address")
	}
	if c.Parent != nil {
		if err := c.Parent.validate(); err != nil {
			return err
		}
	}
	if c.FileStore != nil {
		if err := c.FileStore.validate(); err != nil {
			return err
		}
	}
	if err := c.validateSecurity(); err != nil {
		return err
	}
	return c.Limits.validate()
}

func (l *Listen) validate() error {
	if l.HTTP == "" {
		return errors.New("listen.http is required: an address like 127.0.0.1:7000")
	}
	if err := checkHostPort("listen.http", l.HTTP); err != nil {
		return err
	}
	if l.TCP != "" {
		if err := checkHostPort("listen.tcp", l.TCP); err != nil {
			return err
		}
	}
	if l.QUIC != "" {
		if err := checkHostPort("listen.quic", l.QUIC); err != nil {
			return err
		}
	}
	if l.Prefer != "" {
		if !slices.Contains(ListenTransports, l.Prefer) {
			return fmt.Errorf("listen.prefer %q is invalid: use one of %s", l.Prefer, strings.Join(ListenTransports, ", "))
		}
		if l.Prefer == "tcp" && l.TCP == "" {
			return errors.New("listen.prefer is tcp but listen.tcp is not set: add a listen.tcp address")
		}
		if l.Prefer == "quic" && l.QUIC == "" {
			return errors.New("listen.prefer is quic but listen.quic is not set: add a listen.quic address (UDP)")
		}
	}
	return nil
}

func (p *Parent) validate() error {
	if p.URL == "" {
		return errors.New("parent.url is required: the parent's HTTP address, like http://10.0.0.1:7000")
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("parent.url %q is invalid: use http://HOST:PORT or https://HOST:PORT", p.URL)
	}
	if p.Transport != "" && !slices.Contains(ParentTransports, p.Transport) {
		return fmt.Errorf("parent.transport %q is invalid: use one of %s", p.Transport, strings.Join(ParentTransports, ", "))
	}
	return nil
}

func (l *Limits) validate() error {
	switch {
	case l.MaxFrameBytes < 0:
		return errors.New("limits.max_frame_bytes must not be negative")
	case l.MaxBodyBytes < 0:
		return errors.New("limits.max_body_bytes must not be negative")
	case l.MaxTTL < 0:
		return errors.New("limits.max_ttl must not be negative")
	case l.MaxFrameBytes != 0 && l.MaxFrameBytes < 64<<10:
		return errors.New("limits.max_frame_bytes must be at least 65536")
	case l.MaxHelloBytes < 0 || (l.MaxHelloBytes != 0 && l.MaxHelloBytes < 1024):
		return errors.New("limits.max_hello_bytes must be at least 1024 (a hello with a long subtree needs a few KiB)")
	case l.MaxFilePutBytes < 0:
		return errors.New("limits.max_file_put_bytes must not be negative")
	case l.MaxFileBytesPerCaller < 0:
		return errors.New("limits.max_file_bytes_per_caller must not be negative (0: no bound)")
	case l.MaxConnections < 0:
		return errors.New("limits.max_connections must not be negative")
	case l.MaxConnectionsPerAddress < 0:
		return errors.New("limits.max_connections_per_address must not be negative")
	case l.MaxConnections != 0 && l.MaxConnectionsPerAddress > l.MaxConnections:
		return fmt.Errorf("limits.max_connections_per_address (%d) must not exceed limits.max_connections (%d)", l.MaxConnectionsPerAddress, l.MaxConnections)
	case l.HTTPIdleTimeout < 0:
		return errors.New("limits.http_idle_timeout must not be negative")
	case l.HTTPBodyTimeout < 0:
		return errors.New("limits.http_body_timeout must not be negative")
	}
	frame, body := l.MaxFrameBytes, l.MaxBodyBytes
	if frame == 0 {
		frame = DefaultMaxFrameBytes
	}
	if body == 0 {
		body = DefaultMaxBodyBytes
	}
	if body > frame-64<<10 {
		return fmt.Errorf("limits.max_body_bytes (%d) must be at least 64 KiB below limits.max_frame_bytes (%d): an envelope must fit in a frame", body, frame)
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.Listen.Prefer == "" && c.Listen.TCP != "" {
		c.Listen.Prefer = "tcp"
	}
	if c.Listen.Prefer == "" {
		c.Listen.Prefer = "http"
	}
	if c.Parent != nil && c.Parent.Transport == "" {
		c.Parent.Transport = "auto"
	}
	c.Limits.FillDefaults()
	if c.FileStore != nil {
		c.FileStore.fillDefaults()
	}
}

// FillDefaults sets the limits left zero to their defaults.
func (l *Limits) FillDefaults() {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	set(&l.MaxFrameBytes, DefaultMaxFrameBytes)
	set(&l.MaxBodyBytes, DefaultMaxBodyBytes)
	set(&l.MaxHelloBytes, DefaultMaxHelloBytes)
	set(&l.MaxConnections, DefaultMaxConnections)
	set(&l.MaxConnectionsPerAddress, DefaultMaxConnectionsPerAddress)
	if l.MaxTTL == 0 {
		l.MaxTTL = DefaultMaxTTL
	}
	if l.MaxFilePutBytes == 0 {
		l.MaxFilePutBytes = DefaultMaxFilePutBytes
	}
	if l.HTTPIdleTimeout == 0 {
		l.HTTPIdleTimeout = DefaultHTTPIdleTimeout
	}
	if l.HTTPBodyTimeout == 0 {
		l.HTTPBodyTimeout = DefaultHTTPBodyTimeout
	}
}

func checkHostPort(key, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s %q is invalid: use HOST:PORT, like 127.0.0.1:7000", key, addr)
	}
	return nil
}

// UsesIntakeJournal reports whether client batches are acknowledged from
// the intake journal (see IntakeJournal).
func (c *Config) UsesIntakeJournal() bool { return c.IntakeJournal == nil || *c.IntakeJournal }
