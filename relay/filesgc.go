package relay

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
)

// lastGC remembers the last gc run of this relay's file service (POST
// /v1/files/gc, by medrelayctl files gc or the console) since it started,
// which GET /v1/files/gc answers.
type lastGC struct {
	mu  sync.Mutex
	run *GCRun
}

// GCRun is a gc run as GET /v1/files/gc reports it.
type GCRun struct {
	At      time.Time          `json:"at"`
	Request filehttp.GCRequest `json:"request"`
	Result  filestore.GCResult `json:"result"`
}

// maxGCRequest bounds the copy of a gc request kept to record it.
const maxGCRequest = 64 << 10

// recordGC serves a POST /v1/files/gc with next and records the run when
// it succeeds.
func (g *lastGC) recordGC(w http.ResponseWriter, req *http.Request, next http.Handler) {
	var body bytes.Buffer
	req.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(req.Body, &limitedBuffer{&body, maxGCRequest}), req.Body}
	rec := &gcResponse{ResponseWriter: w, status: http.StatusOK}
	next.ServeHTTP(rec, req)
	if rec.status != http.StatusOK {
		return
	}
	run := &GCRun{At: time.Now()}
	if json.Unmarshal(body.Bytes(), &run.Request) != nil || json.Unmarshal(rec.body.Bytes(), &run.Result) != nil {
		return
	}
	g.mu.Lock()
	g.run = run
	g.mu.Unlock()
}

// serveLast is GET /v1/files/gc.
func (g *lastGC) serveLast(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	run := g.run
	g.mu.Unlock()
	if run == nil {
		fileError(w, http.StatusNotFound, "not_found", "no gc has run since this relay started (POST /v1/files/gc, or medrelayctl files gc)")
		return
	}
	writeJSON(w, run)
}

// gcResponse keeps the status and body of a gc answer (a small JSON
// document) as it passes.
type gcResponse struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *gcResponse) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *gcResponse) Write(p []byte) (int, error) {
	if r.body.Len() < maxGCRequest {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

// limitedBuffer keeps at most max bytes and drops the rest.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
