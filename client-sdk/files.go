package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medrelay/medrelay/link/tlsconf"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/filestore/transfer"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// FileGrace is how long an attached file outlives its envelope's expiry
// before the relay's gc may remove it: time for the receiver to download
// after a late delivery.
const FileGrace = 7 * 24 * time.Hour

// Attachment is a local file to send beside an envelope.
type Attachment struct {
	// Path is the file to upload. Required.
	Path string
	// Name is the name the receiver sees. Default: the base name of Path.
	Name string
	// MediaType is the file's media type. Default: from Name's extension,
	// else application/octet-stream.
	MediaType string
	// Progress receives bytes uploaded and the total. Default: none.
	Progress transfer.ProgressFunc
}

// FileResult says how one attachment travelled.
type FileResult struct {
	Ref          *pb.FileRef
	PartsSent    int  // parts uploaded by this call
	PartsSkipped int  // parts an interrupted earlier call had uploaded
	Resumed      bool // an earlier upload was continued
}

// SendResult is what SendFiles did.
type SendResult struct {
	ID    string // the envelope's id
	Files []FileResult
}

// TransferOptions tune uploads and downloads. The zero value works.
type TransferOptions struct {
	// PartSize is the upload part size (default transfer.DefaultPartSize).
	PartSize int64
	// Concurrency is the number of parts in flight (default 4).
	Concurrency int
	// Proxy streams bytes through the relay even when it offers direct
	// mode (presigned URLs to the storage). Default false: direct when
	// offered.
	Proxy bool
}

// SendFiles uploads files to the storage the relay serves, then sends the
// envelope with a reference to each (size, SHA-256, media type, name). It
// returns once the relay has durably accepted the envelope. With
// Options.StateDir set, a call that was cut short (crash, lost link) and
// is made again with the same target, command and files resumes: the
// envelope keeps its id and each upload sends only its missing parts.
func (c *Client) SendFiles(ctx context.Context, to, command string, args map[string]string, body []byte, files []Attachment, topts TransferOptions, opts ...SendOption) (SendResult, error) {
	var res SendResult
	if _, err := envelope.ParseAddress(to); err != nil {
		return res, err
	}
	intent, id, err := c.sendIntent(to, command, files)
	if err != nil {
		return res, err
	}
	fc, err := c.filesClient(!topts.Proxy)
	if err != nil {
		return res, err
	}
	si, err := fc.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("send files: relay %s: %w", c.opts.Relay, err)
	}
	expires := c.fileExpiry(opts)
	for i, a := range files {
		fr, err := c.upload(ctx, fc, si, id, i, a, expires, topts)
		if err != nil {
			return res, err
		}
		res.Files = append(res.Files, fr)
	}
	refs := make([]*pb.FileRef, len(res.Files))
	for i, f := range res.Files {
		refs[i] = f.Ref
	}
	opts = append(opts, WithFiles(refs...), withID(id))
	if res.ID, err = c.Send(ctx, to, command, args, body, opts...); err != nil {
		return res, err
	}
	if intent != "" {
		os.Remove(intent)
	}
	return res, nil
}

func withID(id string) SendOption { return func(e *pb.Envelope) { e.Id = id } }

// upload sends attachment i of envelope id and returns its reference.
func (c *Client) upload(ctx context.Context, fc *filehttp.Client, si filehttp.StoreInfo, id string, i int, a Attachment, expires time.Time, topts TransferOptions) (FileResult, error) {
	name := a.Name
	if name == "" {
		name = filepath.Base(a.Path)
	}
	mt := a.MediaType
	if mt == "" {
		if mt = mime.TypeByExtension(filepath.Ext(name)); mt == "" {
			mt = "application/octet-stream"
		}
	}
	key := fmt.Sprintf("%s/%s/%s/%d-%s", c.relay, c.opts.ID, id, i+1, keySafe(name))
	meta := filestore.PutOptions{EnvelopeID: id, MediaType: mt, Expires: expires}
	up, err := transfer.Upload(ctx, fc, a.Path, key, meta, transfer.Options{
		StateDir: c.opts.StateDir, Progress: a.Progress, PartSize: topts.PartSize, Concurrency: topts.Concurrency})
	if err != nil {
		return FileResult{}, fmt.Errorf("send file %s: %w", a.Path, err)
	}
	ref := &pb.FileRef{Store: si.Holder, Bucket: si.Bucket, Key: key, Size: up.Info.Size, Sha256: up.Info.SHA256, MediaType: mt, Name: name}
	return FileResult{Ref: ref, PartsSent: up.PartsSent, PartsSkipped: up.PartsSkipped, Resumed: up.Resumed}, nil
}

// filesClient talks to the relay's file service.
// It verifies the relay as the link does (Options.CAFile, client
// certificate) and proves the client's identity with HTTP basic auth
// (client id and Options.Token) when a token is set.
func (c *Client) filesClient(direct bool) (*filehttp.Client, error) {
	hc, err := tlsconf.FilesClient(c.opts.Relay, tlsconf.ClientOptions{CAFile: c.opts.CAFile, CertFile: c.opts.CertFile, KeyFile: c.opts.KeyFile})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	o := filehttp.ClientOptions{BaseURL: strings.TrimSuffix(c.opts.Relay, "/") + "/v1/files/", Direct: direct, HTTPClient: hc}
	if err := tlsconf.CheckToken(c.opts.Relay, c.opts.Token, c.opts.AllowPlaintext); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if token := c.opts.Token; token != "" {
		o.Authorize = func(req *http.Request) { req.SetBasicAuth(c.opts.ID, token) }
	}
	return filehttp.NewClient(o)
}

// fileExpiry is when attached objects may be collected: the envelope's
// expiry (or the default longest TTL) plus FileGrace.
func (c *Client) fileExpiry(opts []SendOption) time.Time {
	now := time.Now()
	e := &pb.Envelope{CreatedAt: timestamppb.New(now)}
	if c.opts.TTL > 0 {
		e.ExpiresAt = timestamppb.New(now.Add(c.opts.TTL))
	}
	for _, o := range opts {
		o(e)
	}
	exp := now.Add(envelope.DefaultMaxTTL)
	if e.ExpiresAt != nil {
		exp = e.ExpiresAt.AsTime()
	}
	return exp.Add(FileGrace)
}

// sendIntent returns the envelope id for sending files: a new one, or
// with a StateDir the one an interrupted identical send chose, so its
// uploads resume under the same keys. intent is the file recording it.
func (c *Client) sendIntent(to, command string, files []Attachment) (intent, id string, err error) {
	if len(files) == 0 {
		return "", "", errors.New("send files: no files given")
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", c.opts.Relay, c.opts.ID, to, command)
	for _, a := range files {
		abs, _ := filepath.Abs(a.Path)
		fi, err := os.Stat(a.Path)
		if err != nil {
			return "", "", fmt.Errorf("send file: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return "", "", fmt.Errorf("send file %s: not a regular file", a.Path)
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00%d\x00%s", abs, fi.Size(), fi.ModTime().UnixNano(), a.Name)
	}
	id = envelope.NewID()
	if c.opts.StateDir == "" {
		return "", id, nil
	}
	intent = filepath.Join(c.opts.StateDir, "send-"+hex.EncodeToString(h.Sum(nil))[:32]+".json")
	var saved struct {
		ID string `json:"id"`
	}
	if b, err := os.ReadFile(intent); err == nil && json.Unmarshal(b, &saved) == nil && saved.ID != "" {
		return intent, saved.ID, nil
	}
	if err := os.MkdirAll(c.opts.StateDir, 0o750); err != nil {
		return "", "", fmt.Errorf("send files: state dir: %w", err)
	}
	saved.ID = id
	b, _ := json.Marshal(saved)
	if err := os.WriteFile(intent, b, 0o640); err != nil {
		return "", "", fmt.Errorf("send files: state dir: %w", err)
	}
	return intent, id, nil
}

// keySafe maps a file name to the characters object keys allow.
func keySafe(name string) string {
	b := []byte(name)
	for i, ch := range b {
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			b[i] = '_'
		}
	}
	s := strings.Trim(string(b), ".")
	if s == "" {
		s = "file"
	}
	return s[:min(len(s), 128)]
}

// FileName returns a safe local name for a reference: its name without
// directories, or the last element of its key.
func FileName(ref *pb.FileRef) string {
	name := filepath.Base(filepath.Clean("/" + strings.ReplaceAll(ref.GetName(), `\`, "/")))
	if name == "/" || name == "." || name == "" {
		name = keySafe(ref.GetKey()[strings.LastIndex(ref.GetKey(), "/")+1:])
	}
	return name
}

func toRef(r *pb.FileRef) filestore.Ref {
	return filestore.Ref{Store: r.GetStore(), Bucket: r.GetBucket(), Key: r.GetKey(), Size: r.GetSize(), SHA256: r.GetSha256(), MediaType: r.GetMediaType()}
}

// checkRef refuses a reference that names a key outside the store, has
// no valid digest, or is held by storage this client's relay does not
// reach, and returns the file service client to fetch it with.
func (c *Client) checkRef(ctx context.Context, ref *pb.FileRef, topts TransferOptions) (*filehttp.Client, filestore.Ref, error) {
	r := toRef(ref)
	if err := r.Validate(); err != nil {
		return nil, r, err
	}
	fc, err := c.filesClient(!topts.Proxy)
	if err != nil {
		return nil, r, err
	}
	si, err := fc.Info(ctx)
	if err != nil {
		return nil, r, fmt.Errorf("relay %s: %w", c.opts.Relay, err)
	}
	return fc, r, si.Reaches(r)
}

// Download fetches a received file into path and verifies its size and
// SHA-256 against the reference. Bytes go to path+".partial" first, which
// a later call resumes; only a verified file appears at path. A mismatch
// is an error (errors.Is filestore.ErrChecksumMismatch) naming the file.
func (c *Client) Download(ctx context.Context, ref *pb.FileRef, path string, progress transfer.ProgressFunc, topts TransferOptions) (filestore.Info, error) {
	fc, r, err := c.checkRef(ctx, ref, topts)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("file %q: %w", FileName(ref), err)
	}
	in, err := transfer.Download(ctx, fc, r, path, transfer.Options{Progress: progress})
	if err != nil {
		return in, fmt.Errorf("file %q: %w", FileName(ref), err)
	}
	return in, nil
}

// Fetch streams a received file to w, verifying it as it goes. w has had
// every byte by the time a mismatch is reported; write where you can take
// it back, or use Download.
func (c *Client) Fetch(ctx context.Context, ref *pb.FileRef, w io.Writer, progress transfer.ProgressFunc, topts TransferOptions) (filestore.Info, error) {
	fc, r, err := c.checkRef(ctx, ref, topts)
	if err != nil {
		return filestore.Info{}, fmt.Errorf("file %q: %w", FileName(ref), err)
	}
	in, err := transfer.Fetch(ctx, fc, r, w, transfer.Options{Progress: progress})
	if err != nil {
		return in, fmt.Errorf("file %q: %w", FileName(ref), err)
	}
	return in, nil
}
