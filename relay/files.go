package relay

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/filestore/local"
	"github.com/medrelay/medrelay/filestore/s3"
	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay/config"
)

// FilesPrefix is where a relay serves its file service.
const FilesPrefix = "/v1/files/"

// fileOpenTimeout bounds the storage checks made at startup.
const fileOpenTimeout = 15 * time.Second

// fileService is a relay's file service: the filehttp handler over its own
// store, or over its parent's file service when it has no filestore
// section (the request travels up, so clinics and small nodes need no
// storage credentials).
type fileService struct {
	store filestore.Store
	info  filehttp.StoreInfo
	own   bool // false: the store is the parent's, reached over HTTP
	log   *slog.Logger
	meter uploadMeter // bytes PUT per client (limits.max_file_bytes_per_caller)
	r     *Relay

	once    sync.Once
	handler http.Handler

	mu       sync.Mutex
	queued   map[string]struct{} // ids of queued envelopes that carry files
	queuedAt time.Time
}

// openFiles opens the storage cfg names: its own (s3 or local), the
// parent's file service for a node without filestore, or a local store in
// data_dir/files for main without one. Errors name the setting to fix.
func openFiles(ctx context.Context, cfg *config.Config, log *slog.Logger) (*fileService, error) {
	fs := &fileService{log: log, own: true}
	fc := cfg.FileStore
	switch {
	case fc == nil && cfg.Parent != nil:
		c, err := parentFilesClient(cfg)
		if err != nil {
			return nil, fmt.Errorf("files through parent.url: %w", err)
		}
		fs.store, fs.own = parentStore{c}, false
		fs.info = filehttp.StoreInfo{Holder: cfg.Parent.URL, Kind: "parent", Mode: config.FileModeDirect, Via: cfg.ID}
		return fs, nil
	case fc == nil:
		fc = &config.FileStore{Kind: config.FileStoreLocal, Dir: filepath.Join(cfg.DataDir, "files"), Mode: config.FileModeProxy}
	}
	st, err := OpenFileStore(ctx, fc)
	if err != nil {
		return nil, err
	}
	fs.store = st
	fs.info = filehttp.StoreInfo{Holder: cfg.ID, Kind: fc.Kind, Bucket: fc.Bucket, Mode: fc.Mode}
	return fs, nil
}

// OpenFileStore opens and checks the backend of a filestore section: for
// s3 it reaches the endpoint, checks the credentials and that the bucket
// exists; for local it prepares the directory. check-config and relay.New
// both use it, so a bad setting is reported at startup, by name.
func OpenFileStore(ctx context.Context, fc *config.FileStore) (filestore.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, fileOpenTimeout)
	defer cancel()
	switch fc.Kind {
	case config.FileStoreS3:
		return s3.Open(ctx, s3.Options{Endpoint: fc.Endpoint, Bucket: fc.Bucket, AccessKey: fc.AccessKey,
			SecretKey: fc.SecretKey, Secure: fc.Secure, OpenTimeout: fileOpenTimeout})
	case config.FileStoreLocal:
		return local.Open(local.Options{Dir: fc.Dir})
	}
	return nil, fmt.Errorf("filestore.kind %q is invalid: use s3 or local", fc.Kind)
}

// fileHandler returns the handler mounted at FilesPrefix. It is built on
// first use, once the HTTP address is bound (signed URLs of a local store
// in direct mode point at it).
func (r *Relay) fileHandler() http.Handler {
	f := r.files
	f.once.Do(func() {
		h, err := f.newHandler(r)
		if err != nil {
			r.log.Error("file service unavailable", "err", err)
			f.handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "file service unavailable: "+err.Error(), http.StatusServiceUnavailable)
			})
			return
		}
		f.handler = h
	})
	return http.HandlerFunc(f.serveHTTP)
}

func (f *fileService) newHandler(r *Relay) (http.Handler, error) {
	f.r = r
	opts := filehttp.Options{
		Prefix:    FilesPrefix,
		Mode:      f.info.Mode,
		Authorize: r.authorizeFiles,
		Logger:    f.log,
	}
	if f.own {
		opts.InUse = func(id string) bool { return f.inUse(r, id) }
	}
	if _, ok := f.store.(filestore.Presigner); !ok && opts.Mode == filehttp.ModeDirect {
		// A local store offers direct mode with URLs this relay signs.
		key := make([]byte, 32)
		rand.Read(key)
		opts.SigningKey, opts.BaseURL = key, r.URL()+FilesPrefix
	}
	return filehttp.New(f.store, opts)
}

func (f *fileService) serveHTTP(w http.ResponseWriter, req *http.Request) {
	switch strings.TrimPrefix(req.URL.Path, FilesPrefix) {
	case filehttp.InfoPath:
		// With auth on, any credential: the SDK reads it before it uploads.
		if _, ok, err := f.r.caller(req); ok && err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="medrelay"`)
			fileError(w, http.StatusUnauthorized, "unauthorized", err.Error()+" (send HTTP basic auth with your id and its token, or a bearer token)")
			return
		}
		f.serveInfo(w, req)
		return
	case "gc":
		if !f.own {
			fileError(w, http.StatusNotImplemented, "unsupported", fmt.Sprintf("relay %s keeps no files: it uses its parent's (%s); run gc against the relay whose config has the filestore section", f.info.Via, f.info.Holder))
			return
		}
	}
	if req.Method == http.MethodPut {
		max := f.r.cfg.Limits.MaxFilePutBytes
		if req.ContentLength > max {
			fileError(w, http.StatusRequestEntityTooLarge, "bad_request", fmt.Sprintf("a PUT of %d bytes is over this relay's limit of %d (limits.max_file_put_bytes): upload in parts (multipart), as the SDK does", req.ContentLength, max))
			return
		}
		req.Body = http.MaxBytesReader(w, req.Body, max)
	}
	f.handler.ServeHTTP(w, req)
}

// serveInfo answers which storage this relay serves; a relay using its
// parent's asks the parent, so the answer names the relay holding it.
func (f *fileService) serveInfo(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		fileError(w, http.StatusMethodNotAllowed, "bad_request", "use GET")
		return
	}
	si := f.info
	if p, ok := f.store.(parentStore); ok {
		up, err := p.Info(req.Context())
		if err != nil {
			fileError(w, http.StatusBadGateway, "internal", "parent's file service: "+err.Error())
			return
		}
		si, si.Via = up, f.info.Via
	}
	writeJSON(w, si)
}

// fileError answers in the file service's JSON error form, which
// filehttp.Client maps back to filestore's sentinel errors.
func fileError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(filehttp.HeaderError, code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(filehttp.ErrorResponse{Error: msg, Code: code})
}

// parentFilesClient reaches the parent's file service as this relay: it
// verifies the parent with parent.ca_file and proves itself with its own
// certificate (tls) or parent.token.
func parentFilesClient(cfg *config.Config) (*filehttp.Client, error) {
	o := tlsconf.ClientOptions{CAFile: cfg.Parent.CAFile}
	if cfg.TLS != nil {
		o.CertFile, o.KeyFile = cfg.TLS.CertFile, cfg.TLS.KeyFile
	}
	hc, err := tlsconf.FilesClient(cfg.Parent.URL, o)
	if err != nil {
		return nil, err
	}
	co := filehttp.ClientOptions{BaseURL: strings.TrimSuffix(cfg.Parent.URL, "/") + FilesPrefix, HTTPClient: hc}
	if err := tlsconf.CheckToken(cfg.Parent.URL, cfg.Parent.Token, cfg.Parent.AllowPlaintext); err != nil {
		return nil, fmt.Errorf("parent.token: %w", err)
	}
	if !authenticates(cfg) {
		// This node cannot tell who its callers are: it never lends them
		// its own credentials (parentFilesNoCreds says so at start).
		hc, err = tlsconf.FilesClient(cfg.Parent.URL, tlsconf.ClientOptions{CAFile: cfg.Parent.CAFile})
		if err != nil {
			return nil, err
		}
		co.HTTPClient = hc
		return filehttp.NewClient(co)
	}
	if token := cfg.Parent.Token; token != "" {
		co.Authorize = func(req *http.Request) { req.SetBasicAuth(cfg.ID, token) }
	}
	return filehttp.NewClient(co)
}

// queuedTTL is how long a snapshot of the queued envelope ids serves
// InUse: one gc run asks once per object.
const queuedTTL = 2 * time.Second

// inUse reports whether an object of envelope id may still be needed:
// its envelope is queued here, or it is young enough (by the time in its
// UUIDv7 id, against limits.max_ttl) to be queued at another relay, whose
// queues this relay cannot see.
func (f *fileService) inUse(r *Relay, id string) bool {
	if t, err := envelope.IDTime(id); err == nil && time.Since(t) < r.cfg.Limits.MaxTTL {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queued == nil || time.Since(f.queuedAt) > queuedTTL {
		set, err := r.queuedWithFiles()
		if err != nil {
			f.log.Error("file gc: read queues", "err", err)
			return true // when in doubt, keep
		}
		f.queued, f.queuedAt = set, time.Now()
	}
	_, ok := f.queued[id]
	return ok
}

// queuedWithFiles returns the ids of queued envelopes that carry files.
func (r *Relay) queuedWithFiles() (map[string]struct{}, error) {
	set := make(map[string]struct{})
	err := r.store.ForEachQueued(func(_ string, raw []byte) bool {
		if env, err := envelope.Decode(raw); err == nil && len(env.Files) > 0 {
			set[env.Id] = struct{}{}
		}
		return true
	})
	return set, err
}

// parentStore is the parent's file service used as this relay's store.
// It presigns through the parent, so direct mode hands out URLs to the
// storage itself, however many levels up it is configured.
type parentStore struct{ *filehttp.Client }

var (
	_ filestore.Store     = parentStore{}
	_ filestore.Presigner = parentStore{}
)

// Presign implements filestore.Presigner by asking the parent. A parent
// in proxy mode refuses (filestore.ErrUnsupported), and clients fall back
// to proxy through this relay.
func (p parentStore) Presign(ctx context.Context, req filestore.PresignRequest) (string, error) {
	resp, err := p.Client.Presign(ctx, req.Key, filehttp.PresignRequest{Method: req.Method, UploadID: req.UploadID,
		PartNumber: req.PartNumber, TTLSeconds: int(req.TTL.Seconds())})
	if err != nil {
		return "", err
	}
	return resp.URL, nil
}
