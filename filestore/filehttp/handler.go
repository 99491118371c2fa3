package filehttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/medrelay/medrelay/filestore"
)

// Op is what a request does, for Authorize.
type Op string

// Operations.
const (
	OpRead   Op = "read"   // GET, HEAD, list parts, presign GET
	OpWrite  Op = "write"  // PUT, multipart, presign PUT
	OpDelete Op = "delete" // DELETE
	OpGC     Op = "gc"     // POST gc
	OpList   Op = "list"   // GET list (key is the prefix)
)

// Options configures a Handler.
type Options struct {
	// Prefix is the path the handler serves, with leading and trailing
	// slashes. Default "/v1/files/".
	Prefix string
	// Mode is ModeProxy or ModeDirect. In direct mode POST ?presign hands
	// out URLs: the store's own when it is a filestore.Presigner, else
	// URLs signed by this handler. Default ModeProxy (presign refused).
	Mode string
	// Authorize decides whether a request that carries no valid signature
	// may do op on key (key is empty for OpGC). Nil refuses every such
	// request; use AllowAll only in tests and single-machine demos.
	Authorize func(r *http.Request, op Op, key string) error
	// SigningKey is the HMAC-SHA256 key of URLs this handler signs. At
	// least 32 bytes; required for direct mode over a store that is not a
	// Presigner. Empty: no URL is signed or accepted.
	SigningKey []byte
	// BaseURL is how clients reach Prefix, for example
	// "https://county-a.example:8443/v1/files/". Required with SigningKey.
	BaseURL string
	// InUse reports whether an envelope is still queued; POST gc needs it
	// and answers 501 without it.
	InUse func(envelopeID string) bool
	// Logger receives one line per failed request (never keys' contents).
	// Default: slog.Default().
	Logger *slog.Logger
}

// AllowAll is an Authorize function that allows everything.
func AllowAll(*http.Request, Op, string) error { return nil }

// Handler serves a filestore over HTTP.
type Handler struct {
	store filestore.Store
	opts  Options
	mux   *http.ServeMux
	log   *slog.Logger
}

var _ filestore.Presigner = (*Handler)(nil)

// New returns a Handler for store.
func New(store filestore.Store, opts Options) (*Handler, error) {
	if opts.Prefix == "" {
		opts.Prefix = "/v1/files/"
	}
	if !strings.HasPrefix(opts.Prefix, "/") || !strings.HasSuffix(opts.Prefix, "/") {
		return nil, fmt.Errorf("filehttp: prefix %q must start and end with '/'", opts.Prefix)
	}
	switch opts.Mode {
	case "":
		opts.Mode = ModeProxy
	case ModeProxy, ModeDirect:
	default:
		return nil, fmt.Errorf("filehttp: filestore.mode %q: want %q or %q", opts.Mode, ModeDirect, ModeProxy)
	}
	if len(opts.SigningKey) > 0 && len(opts.SigningKey) < 32 {
		return nil, errors.New("filehttp: signing key shorter than 32 bytes")
	}
	if len(opts.SigningKey) > 0 && opts.BaseURL == "" {
		return nil, errors.New("filehttp: BaseURL is required with a signing key")
	}
	if opts.Mode == ModeDirect && len(opts.SigningKey) == 0 {
		if _, ok := store.(filestore.Presigner); !ok {
			return nil, errors.New("filehttp: filestore.mode direct over a store that cannot presign needs a signing key and BaseURL")
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{store: store, opts: opts, mux: http.NewServeMux(), log: opts.Logger}
	p := opts.Prefix
	h.mux.HandleFunc("GET "+p+"o/{key...}", h.serveGet)
	h.mux.HandleFunc("HEAD "+p+"o/{key...}", h.serveGet)
	h.mux.HandleFunc("PUT "+p+"o/{key...}", h.servePut)
	h.mux.HandleFunc("POST "+p+"o/{key...}", h.servePost)
	h.mux.HandleFunc("DELETE "+p+"o/{key...}", h.serveDelete)
	h.mux.HandleFunc("POST "+p+"gc", h.serveGC)
	h.mux.HandleFunc("GET "+p+"list", h.serveList)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// allow checks a signature or asks Authorize.
func (h *Handler) allow(r *http.Request, op Op, key string) error {
	if r.URL.Query().Has(paramSignature) {
		return h.verify(r, key)
	}
	if h.opts.Authorize == nil {
		return fmt.Errorf("%w: no authorization configured", ErrForbidden)
	}
	if err := h.opts.Authorize(r, op, key); err != nil {
		return fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	return nil
}

// key returns the validated key of the request.
func pathKey(r *http.Request) (string, error) {
	key := r.PathValue("key")
	return key, filestore.ValidateKey(key)
}

// fail writes err as JSON with the status of its sentinel.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "internal"
	for _, c := range codes {
		if errors.Is(err, c.err) {
			status, code = c.status, c.code
			break
		}
	}
	if errors.Is(err, context.Canceled) {
		status, code = 499, "canceled"
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	h.log.Log(r.Context(), level, "filestore request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderError, code)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		json.NewEncoder(w).Encode(ErrorResponse{Error: err.Error(), Code: code})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", ErrBadRequest, err)
	}
	return nil
}
