package filehttp

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

// setInfoHeaders describes an object in response headers.
func setInfoHeaders(hd http.Header, in filestore.Info) {
	hd.Set(HeaderSize, strconv.FormatInt(in.Size, 10))
	if in.SHA256 != "" {
		hd.Set(HeaderSHA256, in.SHA256)
	}
	if in.EnvelopeID != "" {
		hd.Set(HeaderEnvelope, in.EnvelopeID)
	}
	if !in.Expires.IsZero() {
		hd.Set(HeaderExpires, in.Expires.UTC().Format(time.RFC3339))
	}
	if in.MediaType != "" {
		hd.Set("Content-Type", in.MediaType)
	}
	if !in.Modified.IsZero() {
		hd.Set("Last-Modified", in.Modified.UTC().Format(http.TimeFormat))
	}
}

// infoFromHeaders reads what setInfoHeaders wrote.
func infoFromHeaders(key string, hd http.Header) filestore.Info {
	in := filestore.Info{Key: key, SHA256: hd.Get(HeaderSHA256), EnvelopeID: hd.Get(HeaderEnvelope), MediaType: hd.Get("Content-Type")}
	in.Size, _ = strconv.ParseInt(hd.Get(HeaderSize), 10, 64)
	in.Expires, _ = time.Parse(time.RFC3339, hd.Get(HeaderExpires))
	in.Modified, _ = http.ParseTime(hd.Get("Last-Modified"))
	return in
}

// parseRange accepts "bytes=N-", the only form clients send to resume.
// Other forms are ignored (the whole object is served, as RFC 9110 allows).
func parseRange(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return 0, false
	}
	n, ok := strings.CutSuffix(rest, "-")
	if !ok {
		return 0, false
	}
	off, err := strconv.ParseInt(n, 10, 64)
	return off, err == nil && off >= 0
}

func (h *Handler) serveGet(w http.ResponseWriter, r *http.Request) {
	key, err := pathKey(r)
	if err == nil {
		err = h.allow(r, OpRead, key)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if id := r.URL.Query().Get("uploadId"); id != "" && r.Method == http.MethodGet {
		h.serveListParts(w, r, key, id)
		return
	}
	if r.Method == http.MethodHead {
		in, err := h.store.Stat(r.Context(), key)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		setInfoHeaders(w.Header(), in)
		w.Header().Set("Content-Length", strconv.FormatInt(in.Size, 10))
		return
	}
	off, ranged := parseRange(r.Header.Get("Range"))
	rc, in, err := h.store.Get(r.Context(), key, off)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer rc.Close()
	setInfoHeaders(w.Header(), in)
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Length", strconv.FormatInt(in.Size-off, 10))
	status := http.StatusOK
	if ranged {
		if off >= in.Size && in.Size > 0 {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", in.Size))
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, in.Size-1, in.Size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	io.Copy(w, rc) // a broken connection ends the copy; the client resumes
}

func (h *Handler) servePut(w http.ResponseWriter, r *http.Request) {
	key, err := pathKey(r)
	if err == nil {
		err = h.allow(r, OpWrite, key)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if q := r.URL.Query(); q.Has("uploadId") {
		h.servePart(w, r, key, q.Get("uploadId"), q.Get("partNumber"))
		return
	}
	opts := filestore.PutOptions{SHA256: r.Header.Get(HeaderSHA256), EnvelopeID: r.Header.Get(HeaderEnvelope),
		MediaType: r.Header.Get("Content-Type"), Size: r.ContentLength}
	if v := r.Header.Get(HeaderExpires); v != "" {
		if opts.Expires, err = time.Parse(time.RFC3339, v); err != nil {
			h.fail(w, r, fmt.Errorf("%w: %s: %v", ErrBadRequest, HeaderExpires, err))
			return
		}
	}
	if opts.SHA256 != "" && !filestore.ValidSHA256(opts.SHA256) {
		h.fail(w, r, fmt.Errorf("%w: %s is not 64 lower-case hex digits", ErrBadRequest, HeaderSHA256))
		return
	}
	in, err := h.store.Put(r.Context(), key, r.Body, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, in)
}

func (h *Handler) serveDelete(w http.ResponseWriter, r *http.Request) {
	key, err := pathKey(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := r.URL.Query().Get("uploadId")
	op := OpDelete
	if id != "" {
		op = OpWrite // aborting one's own upload
	}
	if err := h.allow(r, op, key); err != nil {
		h.fail(w, r, err)
		return
	}
	if id != "" {
		err = h.store.AbortUpload(r.Context(), key, id)
	} else {
		err = h.store.Delete(r.Context(), key)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
