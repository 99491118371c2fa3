package filehttp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

// Presign implements filestore.Presigner with URLs to this handler,
// signed with HMAC-SHA256 over the method, key, upload, part and expiry.
// It is how a local store offers direct mode.
func (h *Handler) Presign(ctx context.Context, req filestore.PresignRequest) (string, error) {
	if err := filestore.ValidateKey(req.Key); err != nil {
		return "", fmt.Errorf("presign: %w", err)
	}
	if len(h.opts.SigningKey) == 0 {
		return "", fmt.Errorf("presign %q: no signing key: %w", req.Key, filestore.ErrUnsupported)
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = filestore.DefaultPresignTTL
	}
	q := url.Values{}
	switch req.Method {
	case filestore.PresignGet:
	case filestore.PresignPart:
		if req.UploadID == "" || req.PartNumber < 1 || req.PartNumber > filestore.MaxParts {
			return "", fmt.Errorf("presign %q: %w: part %d of upload %q", req.Key, filestore.ErrInvalidPart, req.PartNumber, req.UploadID)
		}
		q.Set("uploadId", req.UploadID)
		q.Set("partNumber", strconv.Itoa(req.PartNumber))
	default:
		return "", fmt.Errorf("presign %q: method %q: %w", req.Key, req.Method, filestore.ErrUnsupported)
	}
	exp := time.Now().Add(ttl).Unix()
	q.Set(paramSigExpires, strconv.FormatInt(exp, 10))
	q.Set(paramSignature, h.mac(req.Method, req.Key, q.Get("uploadId"), q.Get("partNumber"), exp))
	return strings.TrimSuffix(h.opts.BaseURL, "/") + "/o/" + req.Key + "?" + q.Encode(), nil
}

func (h *Handler) mac(method, key, uploadID, part string, exp int64) string {
	m := hmac.New(sha256.New, h.opts.SigningKey)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%d", method, key, uploadID, part, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// verify accepts a request whose signature covers exactly what it does.
func (h *Handler) verify(r *http.Request, key string) error {
	if len(h.opts.SigningKey) == 0 {
		return fmt.Errorf("%w: signed URLs are not accepted here", ErrForbidden)
	}
	q := r.URL.Query()
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if method != filestore.PresignGet && method != filestore.PresignPart {
		return fmt.Errorf("%w: signed URL does not allow %s", ErrForbidden, r.Method)
	}
	if method == filestore.PresignGet && q.Has("uploadId") {
		return fmt.Errorf("%w: signed URL does not allow listing parts", ErrForbidden)
	}
	exp, err := strconv.ParseInt(q.Get(paramSigExpires), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: signed URL without a valid %s", ErrForbidden, paramSigExpires)
	}
	want := h.mac(method, key, q.Get("uploadId"), q.Get("partNumber"), exp)
	if !hmac.Equal([]byte(want), []byte(q.Get(paramSignature))) {
		return fmt.Errorf("%w: bad signature", ErrForbidden)
	}
	if time.Now().Unix() > exp {
		return fmt.Errorf("%w: signed URL expired at %s", ErrForbidden, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return nil
}
