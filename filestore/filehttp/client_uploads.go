package filehttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/medrelay/medrelay/filestore"
)

// Get implements filestore.Store. In direct mode the bytes come from a
// presigned URL; Info comes from the relay either way.
func (c *Client) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return nil, filestore.Info{}, fmt.Errorf("get: %w", err)
	}
	pr, direct, err := c.presign(ctx, key, PresignRequest{Method: filestore.PresignGet})
	if err != nil {
		return nil, filestore.Info{}, fmt.Errorf("get %q: %w", key, err)
	}
	u, toRelay := c.objectURL(key, nil), true
	if direct {
		u, toRelay = pr.URL, false
	}
	hdr := http.Header{}
	if offset > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := c.do(ctx, http.MethodGet, u, nil, -1, hdr, toRelay)
	if re, ok := err.(*RemoteError); ok && re.Status == http.StatusRequestedRangeNotSatisfiable {
		in, serr := c.Stat(ctx, key)
		if serr == nil && in.Size == offset {
			return io.NopCloser(strings.NewReader("")), in, nil
		}
	}
	if err != nil {
		return nil, filestore.Info{}, fmt.Errorf("get %q: %w", key, err)
	}
	if offset > 0 && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		return nil, filestore.Info{}, fmt.Errorf("get %q: server ignored the range from byte %d (%s)", key, offset, resp.Status)
	}
	in := infoFromHeaders(key, resp.Header)
	if direct && pr.Info != nil {
		in = *pr.Info
	}
	return resp.Body, in, nil
}

// CreateUpload implements filestore.Store.
func (c *Client) CreateUpload(ctx context.Context, key string, opts filestore.PutOptions) (string, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return "", fmt.Errorf("create upload: %w", err)
	}
	var resp CreateUploadResponse
	if err := c.doJSON(ctx, http.MethodPost, c.objectURL(key, url.Values{"uploads": {""}}), opts, &resp); err != nil {
		return "", fmt.Errorf("create upload %q: %w", key, err)
	}
	return resp.UploadID, nil
}

// UploadPart implements filestore.Store. In direct mode the part goes to
// a presigned URL; the ETag comes from its answer.
func (c *Client) UploadPart(ctx context.Context, key, id string, n int, r io.Reader, size int64) (filestore.Part, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Part{}, fmt.Errorf("upload part: %w", err)
	}
	pr, direct, err := c.presign(ctx, key, PresignRequest{Method: filestore.PresignPart, UploadID: id, PartNumber: n})
	if err != nil {
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: %w", n, key, err)
	}
	u, toRelay := c.objectURL(key, partQuery(id, n)), true
	if direct {
		u, toRelay = pr.URL, false
	}
	resp, err := c.do(ctx, http.MethodPut, u, r, size, nil, toRelay)
	if err != nil {
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: %w", n, key, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxJSONBody))
	resp.Body.Close()
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	if etag == "" {
		return filestore.Part{}, fmt.Errorf("upload part %d of %q: answer without ETag", n, key)
	}
	return filestore.Part{Number: n, Size: size, ETag: etag}, nil
}

// ListParts implements filestore.Store.
func (c *Client) ListParts(ctx context.Context, key, id string) ([]filestore.Part, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("list parts: %w", err)
	}
	var msg PartsMessage
	if err := c.doJSON(ctx, http.MethodGet, c.objectURL(key, url.Values{"uploadId": {id}}), nil, &msg); err != nil {
		return nil, fmt.Errorf("list parts of %q: %w", key, err)
	}
	return msg.Parts, nil
}

// CompleteUpload implements filestore.Store.
func (c *Client) CompleteUpload(ctx context.Context, key, id string, parts []filestore.Part) (filestore.Info, error) {
	if err := filestore.ValidateKey(key); err != nil {
		return filestore.Info{}, fmt.Errorf("complete upload: %w", err)
	}
	var in filestore.Info
	if err := c.doJSON(ctx, http.MethodPost, c.objectURL(key, url.Values{"uploadId": {id}}), PartsMessage{Parts: parts}, &in); err != nil {
		return filestore.Info{}, fmt.Errorf("complete upload of %q: %w", key, err)
	}
	return in, nil
}

// AbortUpload implements filestore.Store.
func (c *Client) AbortUpload(ctx context.Context, key, id string) error {
	if err := filestore.ValidateKey(key); err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	if err := c.doJSON(ctx, http.MethodDelete, c.objectURL(key, url.Values{"uploadId": {id}}), nil, nil); err != nil {
		return fmt.Errorf("abort upload of %q: %w", key, err)
	}
	return nil
}
