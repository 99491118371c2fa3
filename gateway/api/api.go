// Package api is the gateway's HTTP API (JSON): the studies it sends and
// receives with their state and counts, starting a pull (send-study),
// and /healthz, /readyz and /metrics (Prometheus text). With a token set,
// every endpoint but /healthz and /readyz needs it (Authorization: Bearer
// TOKEN, or HTTP basic auth with the token as password).
package api

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/store"
)

// Backend is what the API needs from the gateway.
type Backend interface {
	Ready() (bool, string)
	StartPull(p store.Pull) error
}

// Options configure the handler.
type Options struct {
	Store   *store.Store
	Backend Backend
	Token   string // "" = no authentication
}

// SendRequest is the body of POST /v1/studies/send.
type SendRequest struct {
	StudyUID    string `json:"study_uid"`
	From        string `json:"from"`
	To          string `json:"to"`
	Destination string `json:"destination"`
}

// Handler returns the API's handler.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := o.Backend.Ready(); !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", o.auth(http.HandlerFunc(o.metrics)))
	mux.Handle("GET /v1/studies", o.auth(http.HandlerFunc(o.studies)))
	mux.Handle("POST /v1/studies/send", o.auth(http.HandlerFunc(o.send)))
	return mux
}

func (o Options) auth(h http.Handler) http.Handler {
	if o.Token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			_, got, _ = r.BasicAuth()
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(o.Token)) != 1 {
			writeError(w, http.StatusUnauthorized, "this gateway requires its relay token: Authorization: Bearer TOKEN")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// Transfers returns the transfers (of one study when study is set),
// outgoing first, then by study.
func Transfers(s *store.Store, study string) ([]*store.Transfer, error) {
	var out []*store.Transfer
	err := s.View(func(tx *store.Tx) error {
		return tx.Transfers(func(tr *store.Transfer) error {
			if study == "" || tr.StudyUID == study {
				out = append(out, tr)
			}
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Side != out[j].Side {
			return out[i].Side == store.Outgoing
		}
		return out[i].Updated.Before(out[j].Updated)
	})
	return out, err
}

func (o Options) studies(w http.ResponseWriter, r *http.Request) {
	study := r.URL.Query().Get("study")
	if study != "" && !manifest.ValidUID(study) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("study %q is not a UID (digits and dots, at most 64)", study))
		return
	}
	trs, err := Transfers(o.Store, study)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if trs == nil {
		trs = []*store.Transfer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"studies": trs})
}

func (o Options) send(w http.ResponseWriter, r *http.Request) {
	var rq SendRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rq); err != nil {
		writeError(w, http.StatusBadRequest, "body: want {\"study_uid\",\"from\",\"to\",\"destination\"}: "+err.Error())
		return
	}
	if err := CheckSend(rq); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	p := store.Pull{StudyUID: rq.StudyUID, From: rq.From, To: rq.To, Destination: rq.Destination}
	if err := o.Backend.StartPull(p); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"study_uid": rq.StudyUID, "state": "pending"})
}

// CheckSend validates a pull request's fields.
func CheckSend(rq SendRequest) error {
	switch {
	case !manifest.ValidUID(rq.StudyUID):
		return fmt.Errorf("study_uid %q is not a UID (digits and dots, at most 64)", rq.StudyUID)
	case rq.From == "":
		return fmt.Errorf("from is required: the AE title of the peer holding the study")
	case strings.Count(rq.To, "/") != 1 || strings.HasPrefix(rq.To, "/") || strings.HasSuffix(rq.To, "/"):
		return fmt.Errorf("to %q is invalid: want the remote gateway's relay address, like county-b/gw-b", rq.To)
	}
	return nil
}
