package filehttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

var _ filestore.Store = (*Client)(nil)

// ClientOptions configures a Client.
type ClientOptions struct {
	// BaseURL is the handler's prefix on the relay, for example
	// "http://county-a:8080/v1/files/". Required.
	BaseURL string
	// HTTPClient sends the requests. Default: a client without timeout
	// (bodies are large; cancel through the context).
	HTTPClient *http.Client
	// Direct asks the relay for presigned URLs and moves part and
	// download bytes straight to and from storage. When the relay answers
	// that it is in proxy mode, the client falls back to proxy for good.
	// Default false (proxy).
	Direct bool
	// Authorize adds credentials to every request to the relay (not to
	// presigned URLs). Default: none.
	Authorize func(*http.Request)
	// PresignTTL is the lifetime asked for presigned URLs. Default: the
	// relay's (filestore.DefaultPresignTTL).
	PresignTTL time.Duration
}

// Client talks to a Handler. It is a filestore.Store, so a relay without
// storage of its own can use its parent's through it.
type Client struct {
	opts    ClientOptions
	base    string
	hc      *http.Client
	noPresg atomic.Bool // the relay refused presigning: proxy from now on
}

// NewClient returns a Client.
func NewClient(opts ClientOptions) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("filehttp client: base URL %q: want http(s)://host[:port]/prefix/", opts.BaseURL)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{opts: opts, base: strings.TrimSuffix(opts.BaseURL, "/") + "/", hc: hc}, nil
}

func (c *Client) direct() bool { return c.opts.Direct && !c.noPresg.Load() }

// objectURL builds the URL of key with an optional query.
func (c *Client) objectURL(key string, q url.Values) string {
	u := c.base + "o/" + key
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends a request to the relay (toRelay) or to a presigned URL and
// turns an error answer into an error.
func (c *Client) do(ctx context.Context, method, u string, body io.Reader, size int64, hdr http.Header, toRelay bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil && size >= 0 {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if toRelay && c.opts.Authorize != nil {
		c.opts.Authorize(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// doJSON sends v as JSON to the relay and decodes the answer into out.
func (c *Client) doJSON(ctx context.Context, method, u string, v, out any) error {
	var body io.Reader
	size := int64(-1)
	if v != nil {
		b, _ := json.Marshal(v)
		body, size = bytes.NewReader(b), int64(len(b))
	}
	resp, err := c.do(ctx, method, u, body, size, http.Header{"Content-Type": {"application/json"}}, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBody)).Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// RemoteError is an error answer from the relay or the object store.
type RemoteError struct {
	Status  int
	Code    string // the relay's code, or the S3 code
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
}

// Is maps the answer to filestore sentinels.
func (e *RemoteError) Is(target error) bool {
	for _, c := range codes {
		if c.code == e.Code {
			return c.err == target
		}
	}
	switch e.Code {
	case "NoSuchKey", "NoSuchUpload":
		return target == filestore.ErrNotFound
	case "AccessDenied", "SignatureDoesNotMatch":
		return target == ErrForbidden
	}
	return false
}

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &RemoteError{Status: resp.StatusCode}
	var er ErrorResponse
	if json.Unmarshal(b, &er) == nil && er.Code != "" {
		e.Code, e.Message = er.Code, er.Error
		return e
	}
	if code := resp.Header.Get(HeaderError); code != "" {
		e.Code, e.Message = code, http.StatusText(resp.StatusCode)
		return e
	}
	// S3 answers in XML: <Code>NoSuchKey</Code><Message>...</Message>.
	e.Code = xmlField(string(b), "Code")
	e.Message = xmlField(string(b), "Message")
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if e.Code == "" {
		switch resp.StatusCode {
		case http.StatusNotFound:
			e.Code = "not_found"
		case http.StatusForbidden:
			e.Code = "forbidden"
		}
	}
	return e
}

func xmlField(s, name string) string {
	_, after, ok := strings.Cut(s, "<"+name+">")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, "</"+name+">")
	return v
}

// Stat implements filestore.Store.
func (c *Client) Stat(ctx context.Context, key string) (filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Info{}, fmt.Errorf("stat: %w", err)
	}
	resp, err := c.do(ctx, http.MethodHead, c.objectURL(key, nil), nil, -1, nil, true)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	resp.Body.Close()
	return infoFromHeaders(key, resp.Header), nil
}

// Put implements filestore.Store; the body streams through the relay.
func (c *Client) Put(ctx context.Context, key string, r io.Reader, opts filestore.PutOptions) (filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Info{}, fmt.Errorf("put: %w", err)
	}
	hdr := http.Header{}
	if opts.SHA256 != "" {
		hdr.Set(HeaderSHA256, opts.SHA256)
	}
	if opts.EnvelopeID != "" {
		hdr.Set(HeaderEnvelope, opts.EnvelopeID)
	}
	if !opts.Expires.IsZero() {
		hdr.Set(HeaderExpires, opts.Expires.UTC().Format(time.RFC3339))
	}
	if opts.MediaType != "" {
		hdr.Set("Content-Type", opts.MediaType)
	}
	size := int64(-1)
	if opts.Size > 0 {
		size = opts.Size
	}
	resp, err := c.do(ctx, http.MethodPut, c.objectURL(key, nil), r, size, hdr, true)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("put %q: %w", key, err)
	}
	defer resp.Body.Close()
	var in filestore.Info
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil {
		return filestore.Info{}, fmt.Errorf("put %q: decode answer: %w", key, err)
	}
	return in, nil
}

// Delete implements filestore.Store.
func (c *Client) Delete(ctx context.Context, key string) error {
	if err := filestore.ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := c.doJSON(ctx, http.MethodDelete, c.objectURL(key, nil), nil, nil); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// List implements filestore.Store.
func (c *Client) List(ctx context.Context, prefix string, fn func(filestore.Info) error) error {
	resp, err := c.do(ctx, http.MethodGet, c.base+"list?"+url.Values{"prefix": {prefix}}.Encode(), nil, -1, nil, true)
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var in filestore.Info
		if err := dec.Decode(&in); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		if err := fn(in); err != nil {
			return err
		}
	}
}

// GC asks the relay to remove expired objects.
func (c *Client) GC(ctx context.Context, req GCRequest) (filestore.GCResult, error) {
	var res filestore.GCResult
	if err := c.doJSON(ctx, http.MethodPost, c.base+"gc", req, &res); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	return res, nil
}

// Presign asks the relay for a URL (direct mode).
func (c *Client) Presign(ctx context.Context, key string, req PresignRequest) (PresignResponse, error) {
	var resp PresignResponse
	if err := filestore.ValidateKey(key); err != nil {
		return resp, fmt.Errorf("presign: %w", err)
	}
	if req.TTLSeconds == 0 && c.opts.PresignTTL > 0 {
		req.TTLSeconds = int(c.opts.PresignTTL.Seconds())
	}
	err := c.doJSON(ctx, http.MethodPost, c.objectURL(key, url.Values{"presign": {""}}), req, &resp)
	if err != nil {
		return resp, fmt.Errorf("presign %q: %w", key, err)
	}
	return resp, nil
}

// presign returns a URL, or "" when the relay is in proxy mode.
func (c *Client) presign(ctx context.Context, key string, req PresignRequest) (PresignResponse, bool, error) {
	if !c.direct() {
		return PresignResponse{}, false, nil
	}
	resp, err := c.Presign(ctx, key, req)
	if errors.Is(err, filestore.ErrUnsupported) {
		c.noPresg.Store(true)
		return resp, false, nil
	}
	return resp, err == nil, err
}

func partQuery(id string, n int) url.Values {
	return url.Values{"uploadId": {id}, "partNumber": {strconv.Itoa(n)}}
}
