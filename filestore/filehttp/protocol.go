// Package filehttp carries a filestore over a relay's HTTP address: a
// Handler that serves any filestore.Store (proxy mode, and HMAC-signed
// URLs so a local store can offer direct mode too), and a Client that
// speaks the same protocol and is itself a filestore.Store.
//
// Endpoints, relative to the prefix the handler is mounted at:
//
//	GET    o/{key}                       download; "Range: bytes=N-" resumes
//	HEAD   o/{key}                       stat
//	PUT    o/{key}                       upload a whole object
//	DELETE o/{key}                       delete
//	POST   o/{key}?uploads               start a multipart upload
//	PUT    o/{key}?uploadId=U&partNumber=N  upload a part
//	GET    o/{key}?uploadId=U            list uploaded parts
//	POST   o/{key}?uploadId=U            complete
//	DELETE o/{key}?uploadId=U            abort
//	POST   o/{key}?presign               direct mode: a URL to move bytes without the relay
//	GET    list?prefix=P                 list objects, one JSON Info per line
//	POST   gc                            remove expired objects
//
// Object metadata travels in X-Medrelay-* headers; requests and answers
// of the control endpoints are JSON; errors are JSON with a code that the
// Client maps back to the filestore sentinel errors.
package filehttp

import (
	"errors"
	"net/http"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

// Headers carrying object metadata.
const (
	HeaderSHA256   = "X-Medrelay-Sha256"
	HeaderSize     = "X-Medrelay-Size" // whole object size, also on ranged answers
	HeaderEnvelope = "X-Medrelay-Envelope"
	HeaderExpires  = "X-Medrelay-Expires" // RFC 3339
	HeaderError    = "X-Medrelay-Error"   // error code, for HEAD answers without body
)

// Query parameters of signed URLs.
const (
	paramSigExpires = "mr-expires"
	paramSignature  = "mr-signature"
)

// Limits on what the handler reads.
const (
	maxJSONBody   = 4 << 20 // a complete request lists up to 10,000 parts
	MaxPartSize   = 5 << 30 // as in S3
	maxPresignTTL = 7 * 24 * time.Hour
)

// Modes of a relay's file service.
const (
	ModeProxy  = "proxy"  // bytes stream through the relay
	ModeDirect = "direct" // clients get presigned URLs
)

// PresignRequest is the JSON body of POST o/{key}?presign.
type PresignRequest struct {
	Method     string `json:"method"` // filestore.PresignGet or PresignPart
	UploadID   string `json:"upload_id,omitempty"`
	PartNumber int    `json:"part_number,omitempty"`
	TTLSeconds int    `json:"ttl_seconds,omitempty"`
}

// PresignResponse answers a presign request. For a GET, Info describes
// the object so the client knows what to verify.
type PresignResponse struct {
	URL  string          `json:"url"`
	Info *filestore.Info `json:"info,omitempty"`
}

// CreateUploadResponse answers POST o/{key}?uploads.
type CreateUploadResponse struct {
	UploadID string `json:"upload_id"`
}

// PartsMessage lists parts: the answer of a list and the body of a complete.
type PartsMessage struct {
	Parts []filestore.Part `json:"parts"`
}

// GCRequest is the JSON body of POST gc.
type GCRequest struct {
	OlderThanSeconds int64  `json:"older_than_seconds,omitempty"`
	Prefix           string `json:"prefix,omitempty"`
	DryRun           bool   `json:"dry_run,omitempty"`
}

// ErrorResponse is the JSON body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"` // see codes
}

// Errors of the protocol itself, beside the filestore sentinels.
var (
	// ErrForbidden means the relay refused the request (no valid
	// signature and Authorize said no).
	ErrForbidden = errors.New("forbidden")
	// ErrBadRequest means a malformed request (bad JSON, query, header).
	ErrBadRequest = errors.New("bad request")
)

// codes pairs wire codes with sentinel errors and HTTP statuses.
var codes = []struct {
	code   string
	err    error
	status int
}{
	{"not_found", filestore.ErrNotFound, http.StatusNotFound},
	{"invalid_key", filestore.ErrInvalidKey, http.StatusBadRequest},
	{"checksum_mismatch", filestore.ErrChecksumMismatch, http.StatusUnprocessableEntity},
	{"size_mismatch", filestore.ErrSizeMismatch, http.StatusBadRequest},
	{"invalid_part", filestore.ErrInvalidPart, http.StatusBadRequest},
	{"invalid_options", filestore.ErrInvalidOptions, http.StatusBadRequest},
	{"unsupported", filestore.ErrUnsupported, http.StatusNotImplemented},
	{"forbidden", ErrForbidden, http.StatusForbidden},
	{"bad_request", ErrBadRequest, http.StatusBadRequest},
}
