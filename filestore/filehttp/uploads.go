package filehttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

// servePost dispatches ?uploads, ?uploadId= (complete) and ?presign.
func (h *Handler) servePost(w http.ResponseWriter, r *http.Request) {
	key, err := pathKey(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	switch {
	case q.Has("uploads"):
		h.serveCreateUpload(w, r, key)
	case q.Get("uploadId") != "":
		h.serveComplete(w, r, key, q.Get("uploadId"))
	case q.Has("presign"):
		h.servePresign(w, r, key)
	default:
		h.fail(w, r, fmt.Errorf("%w: POST needs ?uploads, ?uploadId= or ?presign", ErrBadRequest))
	}
}

func (h *Handler) serveCreateUpload(w http.ResponseWriter, r *http.Request, key string) {
	var opts filestore.PutOptions
	err := h.allow(r, OpWrite, key)
	if err == nil {
		err = readJSON(r, &opts)
	}
	var id string
	if err == nil {
		id, err = h.store.CreateUpload(r.Context(), key, opts)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CreateUploadResponse{UploadID: id})
}

func (h *Handler) servePart(w http.ResponseWriter, r *http.Request, key, id, number string) {
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 || n > filestore.MaxParts {
		h.fail(w, r, fmt.Errorf("%w: partNumber %q outside 1..%d", ErrBadRequest, number, filestore.MaxParts))
		return
	}
	if r.ContentLength < 0 {
		h.fail(w, r, fmt.Errorf("%w: a part needs a Content-Length", ErrBadRequest))
		return
	}
	if r.ContentLength > MaxPartSize {
		h.fail(w, r, fmt.Errorf("%w: part of %d bytes exceeds %d", ErrBadRequest, r.ContentLength, int64(MaxPartSize)))
		return
	}
	p, err := h.store.UploadPart(r.Context(), key, id, n, r.Body, r.ContentLength)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `"`+p.ETag+`"`)
	writeJSON(w, http.StatusOK, p)
}

func (h *Handler) serveListParts(w http.ResponseWriter, r *http.Request, key, id string) {
	parts, err := h.store.ListParts(r.Context(), key, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if parts == nil {
		parts = []filestore.Part{}
	}
	writeJSON(w, http.StatusOK, PartsMessage{Parts: parts})
}

func (h *Handler) serveComplete(w http.ResponseWriter, r *http.Request, key, id string) {
	var msg PartsMessage
	err := h.allow(r, OpWrite, key)
	if err == nil {
		err = readJSON(r, &msg)
	}
	var in filestore.Info
	if err == nil {
		in, err = h.store.CompleteUpload(r.Context(), key, id, msg.Parts)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (h *Handler) servePresign(w http.ResponseWriter, r *http.Request, key string) {
	var req PresignRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	op := OpWrite
	if req.Method == filestore.PresignGet {
		op = OpRead
	}
	if err := h.allow(r, op, key); err != nil {
		h.fail(w, r, err)
		return
	}
	if h.opts.Mode != ModeDirect {
		h.fail(w, r, fmt.Errorf("presign: relay serves files in proxy mode: %w", filestore.ErrUnsupported))
		return
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if ttl < 0 || ttl > maxPresignTTL {
		h.fail(w, r, fmt.Errorf("%w: ttl_seconds outside 0..%d", ErrBadRequest, int(maxPresignTTL.Seconds())))
		return
	}
	var resp PresignResponse
	if req.Method == filestore.PresignGet {
		// Refuse a reference to a missing object here, with a reason,
		// rather than hand out a URL that fails later.
		in, err := h.store.Stat(r.Context(), key)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		resp.Info = &in
	}
	preq := filestore.PresignRequest{Method: req.Method, Key: key, UploadID: req.UploadID, PartNumber: req.PartNumber, TTL: ttl}
	var err error
	if p, ok := h.store.(filestore.Presigner); ok {
		resp.URL, err = p.Presign(r.Context(), preq)
	} else {
		resp.URL, err = h.Presign(r.Context(), preq)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) serveGC(w http.ResponseWriter, r *http.Request) {
	if err := h.allow(r, OpGC, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	if h.opts.InUse == nil {
		h.fail(w, r, errors.New("gc: relay has no queue to ask: "+filestore.ErrUnsupported.Error()))
		return
	}
	var req GCRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := filestore.GC(r.Context(), h.store, filestore.GCOptions{InUse: h.opts.InUse,
		OlderThan: time.Duration(req.OlderThanSeconds) * time.Second, Prefix: req.Prefix, DryRun: req.DryRun})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// serveList streams one JSON Info per line.
func (h *Handler) serveList(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	if err := h.allow(r, OpList, prefix); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	err := h.store.List(r.Context(), prefix, func(in filestore.Info) error { return enc.Encode(in) })
	if err != nil {
		// The status is sent; a truncated listing ends without its last line.
		h.log.Warn("filestore list failed", "err", err)
		panic(http.ErrAbortHandler)
	}
}
