package worklist

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MediaType is the media type of UPS-RS bodies.
const MediaType = "application/dicom+json"

// Limits of UPS-RS requests.
const (
	MaxBody      = 1 << 20 // bytes of a request body
	DefaultLimit = 100     // matches per search page
	MaxLimit     = 1000
)

// Handler serves UPS-RS (PS3.18 chapter 11) under prefix (like
// "/dicom-web"), with the notification WebSocket at
// prefix/subscribers/{AETitle}.
func (s *Service) Handler(prefix string) http.Handler {
	mux := http.NewServeMux()
	p := strings.TrimSuffix(prefix, "/")
	mux.HandleFunc("POST "+p+"/workitems", s.create)
	mux.HandleFunc("GET "+p+"/workitems", s.search)
	mux.HandleFunc("GET "+p+"/workitems/{uid}", s.retrieve)
	mux.HandleFunc("POST "+p+"/workitems/{uid}", s.updateItem)
	mux.HandleFunc("PUT "+p+"/workitems/{uid}/state", s.changeState)
	mux.HandleFunc("POST "+p+"/workitems/{uid}/cancelrequest", s.cancelRequest)
	mux.HandleFunc("POST "+p+"/workitems/{uid}/subscribers/{aet}", s.subscribe)
	mux.HandleFunc("DELETE "+p+"/workitems/{uid}/subscribers/{aet}", s.unsubscribe)
	mux.HandleFunc("POST "+p+"/workitems/{uid}/subscribers/{aet}/suspend", s.suspend)
	mux.HandleFunc("GET "+p+"/subscribers/{aet}", s.channel)
	return mux
}

// fail answers a refused request: the HTTP status of the failure, a
// Warning header with its comment (PS3.18 8.4.3) and a DICOM JSON body
// holding Status (0000,0900) and Error Comment (0000,0902).
func fail(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: 0xC000, HTTP: http.StatusInternalServerError, Comment: "worklist: " + err.Error()}
	}
	ds := Dataset{}
	ds.SetUS(tagStatus, e.Status)
	ds.SetStr(tagErrorComment, "LO", e.Comment)
	w.Header().Set("Warning", warning(e.Comment))
	writeDS(w, e.HTTP, ds)
}

func warning(text string) string {
	return "299 medrelay: " + strconv.Quote(text)
}

func writeDS(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// readDataset reads a DICOM JSON body; empty is allowed when optional.
func readDataset(w http.ResponseWriter, r *http.Request, optional bool) (Dataset, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" || !optional {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != MediaType && mt != "application/json" {
			return nil, &Error{Status: StatusInvalidAttributeValue, HTTP: http.StatusUnsupportedMediaType,
				Comment: fmt.Sprintf("Content-Type %q is not supported; send %s", ct, MediaType)}
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &Error{Status: StatusInvalidAttributeValue, HTTP: http.StatusRequestEntityTooLarge,
				Comment: fmt.Sprintf("body is larger than %d bytes", MaxBody)}
		}
		return nil, badRequest("read body: %v", err)
	}
	if optional && len(strings.TrimSpace(string(data))) == 0 {
		return Dataset{}, nil
	}
	ds, err := DecodeDataset(data)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return ds, nil
}

// createUID reads the workitem UID of a create: ?{uid} (PS3.18) or the
// older ?AffectedSOPInstanceUID={uid}.
func createUID(q string) (string, error) {
	if q == "" {
		return "", nil
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return "", badRequest("query %q: %v", q, err)
	}
	if u := v.Get("AffectedSOPInstanceUID"); u != "" {
		return u, nil
	}
	if len(v) == 1 {
		for k, vals := range v {
			if len(vals) == 1 && vals[0] == "" && ValidUID(k) {
				return k, nil
			}
		}
	}
	return "", badRequest("query %q: want ?{workitem UID} or ?AffectedSOPInstanceUID={UID}", q)
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) {
	uid, err := createUID(r.URL.RawQuery)
	if err != nil {
		fail(w, err)
		return
	}
	ds, err := readDataset(w, r, false)
	if err != nil {
		fail(w, err)
		return
	}
	if uid, err = s.Create(uid, ds); err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Location", requestBase(r)+"/"+uid)
	w.Header().Set("Content-Location", requestBase(r)+"/"+uid)
	w.WriteHeader(http.StatusCreated)
}

// requestBase is the URL of the workitems resource as the client called it.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

func (s *Service) retrieve(w http.ResponseWriter, r *http.Request) {
	ds, err := s.Get(r.PathValue("uid"))
	if err != nil {
		fail(w, err)
		return
	}
	writeDS(w, http.StatusOK, []Dataset{ds})
}

// transactionParam reads ?transaction={uid} or a bare ?{uid}.
func transactionParam(q url.Values) string {
	if t := q.Get("transaction"); t != "" {
		return t
	}
	for k, v := range q {
		if len(v) == 1 && v[0] == "" && ValidUID(k) {
			return k
		}
	}
	return ""
}

func (s *Service) updateItem(w http.ResponseWriter, r *http.Request) {
	ds, err := readDataset(w, r, false)
	if err == nil {
		err = s.Update(r.PathValue("uid"), transactionParam(r.URL.Query()), ds)
	}
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Service) changeState(w http.ResponseWriter, r *http.Request) {
	ds, err := readDataset(w, r, false)
	if err != nil {
		fail(w, err)
		return
	}
	warn, err := s.ChangeState(r.PathValue("uid"), ds.Str(tagProcedureStepState), ds.Str(tagTransactionUID))
	if err != nil {
		fail(w, err)
		return
	}
	if warn != nil {
		w.Header().Set("Warning", warning(warn.Comment))
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Service) cancelRequest(w http.ResponseWriter, r *http.Request) {
	ds, err := readDataset(w, r, true)
	if err != nil {
		fail(w, err)
		return
	}
	warn, err := s.RequestCancel(r.PathValue("uid"), ds)
	if err != nil {
		fail(w, err)
		return
	}
	if warn != nil {
		w.Header().Set("Warning", warning(warn.Comment))
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Service) subscribe(w http.ResponseWriter, r *http.Request) {
	uid, q := r.PathValue("uid"), r.URL.Query()
	lock := false
	if v, ok := q["deletionlock"]; ok {
		lock = len(v) == 0 || v[0] == "" || v[0] == "true"
		delete(q, "deletionlock")
	}
	var filter *Query
	if uid == FilteredGlobal {
		f, err := ParseQuery(q)
		if err != nil {
			fail(w, err)
			return
		}
		filter = &f
	} else if len(q) > 0 {
		fail(w, badRequest("only the filtered global subscription (%s) takes matching keys", FilteredGlobal))
		return
	}
	if err := s.Subscribe(uid, r.PathValue("aet"), lock, filter); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Service) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := s.Unsubscribe(r.PathValue("uid"), r.PathValue("aet")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Service) suspend(w http.ResponseWriter, r *http.Request) {
	if uid := r.PathValue("uid"); uid != GlobalSubscriber && uid != FilteredGlobal {
		fail(w, badRequest("only a global subscription (%s or %s) is suspended", GlobalSubscriber, FilteredGlobal))
		return
	}
	if err := s.Suspend(r.PathValue("aet")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Service) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	keys, err := ParseQuery(q)
	if err != nil {
		fail(w, err)
		return
	}
	var include []string
	all := false
	for _, v := range q["includefield"] {
		for _, f := range strings.Split(v, ",") {
			if f == "all" {
				all = true
				continue
			}
			t, ok := resolveTag(f)
			if !ok {
				fail(w, badRequest("includefield %q is not a known attribute keyword or tag", f))
				return
			}
			include = append(include, t)
		}
	}
	offset, err1 := intParam(q, "offset", 0)
	limit, err2 := intParam(q, "limit", DefaultLimit)
	if err := errors.Join(err1, err2); err != nil {
		fail(w, badRequest("%v", err))
		return
	}
	res, err := s.Search(keys, include, all, offset, min(limit, MaxLimit))
	if err != nil {
		fail(w, err)
		return
	}
	if res.More > 0 {
		w.Header().Set("Warning", warning(fmt.Sprintf("There are %d additional results that can be requested", res.More)))
	}
	if len(res.Matches) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeDS(w, http.StatusOK, res.Matches)
}

func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || (name == "limit" && n == 0) {
		return 0, fmt.Errorf("%s=%q: want a whole number (limit at least 1)", name, v)
	}
	return n, nil
}
