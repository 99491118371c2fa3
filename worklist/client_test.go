package worklist_test

// A UPS-RS client for the tests, written from PS3.18 chapter 11 and kept
// apart from the server code: it speaks only HTTP, DICOM JSON and
// WebSocket.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/medrelay/medrelay/worklist"
)

// server is one worklist behind a real HTTP server on a loopback port.
type server struct {
	t    testing.TB
	path string
	svc  *worklist.Service
	hs   *httptest.Server
	base string // http://127.0.0.1:PORT/dicom-web
}

func startServer(t testing.TB) *server {
	t.Helper()
	s := &server{t: t, path: filepath.Join(t.TempDir(), "worklist.db")}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	svc, err := worklist.Open(worklist.Options{Path: s.path})
	if err != nil {
		s.t.Fatal(err)
	}
	s.svc = svc
	s.hs = httptest.NewServer(svc.Handler("/dicom-web"))
	s.base = s.hs.URL + "/dicom-web"
}

// stop closes the server and the file (a restart is stop then start).
func (s *server) stop() {
	if s.svc == nil {
		return
	}
	s.hs.Close()
	s.svc.Close()
	s.svc = nil
	http.DefaultClient.CloseIdleConnections()
}

type reply struct {
	code    int
	warning string
	loc     string
	body    []byte
}

// attr reads the first value of a tag from a DICOM JSON object.
func attr(obj map[string]any, tag string) string {
	a, _ := obj[tag].(map[string]any)
	if a == nil {
		return ""
	}
	v, _ := a["Value"].([]any)
	if len(v) == 0 {
		return ""
	}
	switch x := v[0].(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v[0])
}

func (r reply) objects(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("body %q is not a DICOM JSON array: %v", r.body, err)
	}
	return out
}

func (s *server) do(method, path, body string) reply {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/dicom+json")
	}
	req.Header.Set("Accept", "application/dicom+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{code: resp.StatusCode, warning: resp.Header.Get("Warning"), loc: resp.Header.Get("Location"), body: data}
}

func (s *server) must(want int, method, path, body string) reply {
	s.t.Helper()
	r := s.do(method, path, body)
	if r.code != want {
		s.t.Fatalf("%s %s: got %d (%s %s), want %d", method, path, r.code, r.warning, r.body, want)
	}
	return r
}

// workitemJSON is a minimal SCHEDULED workitem.
func workitemJSON(label string) string {
	return `{"00741000":{"vr":"CS","Value":["SCHEDULED"]},` +
		`"00741204":{"vr":"LO","Value":["reading"]},` +
		`"00741202":{"vr":"LO","Value":["` + label + `"]},` +
		`"00404005":{"vr":"DT","Value":["20261130083000"]},` +
		`"00100020":{"vr":"LO","Value":["P-1"]}}`
}

func stateJSON(state, tx string) string {
	return `{"00741000":{"vr":"CS","Value":["` + state + `"]},"00081195":{"vr":"UI","Value":["` + tx + `"]}}`
}

const performed = `{"00741216":{"vr":"SQ","Value":[{"00404050":{"vr":"DT","Value":["20261130090000"]},"00404051":{"vr":"DT","Value":["20261130093000"]}}]}}`

// listener is a subscriber's notification channel.
type listener struct {
	t testing.TB
	c *websocket.Conn
}

func (s *server) listen(ae string) *listener {
	s.t.Helper()
	url := "ws" + strings.TrimPrefix(s.base, "http") + "/subscribers/" + ae
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		s.t.Fatalf("dial %s: %v", url, err)
	}
	c.SetReadLimit(1 << 20)
	l := &listener{t: s.t, c: c}
	s.t.Cleanup(func() { c.CloseNow() })
	return l
}

// next waits for the next event report (failing after 10 s).
func (l *listener) next() map[string]any {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := l.c.Read(ctx)
	if err != nil {
		l.t.Fatalf("read event: %v", err)
	}
	if typ != websocket.MessageText {
		l.t.Fatalf("event is a %v message, want text", typ)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		l.t.Fatalf("event %q is not DICOM JSON: %v", data, err)
	}
	return ev
}

func (l *listener) close() { l.c.Close(websocket.StatusNormalClosure, "") }

// closeDelivered answers the server's pings until it has removed every
// event queued for ae (they count as delivered), then closes.
func (l *listener) closeDelivered(s *server, ae string) {
	l.t.Helper()
	l.c.CloseRead(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for {
		q, err := s.svc.Pending(ae, 0, 1)
		if err != nil {
			l.t.Fatal(err)
		}
		if len(q) == 0 {
			break
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("events for %s still queued after 10s", ae)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.close()
}

// expect reads the next event and checks its workitem, type and state.
func (l *listener) expect(uid, typ, state string) map[string]any {
	l.t.Helper()
	ev := l.next()
	got := fmt.Sprintf("%s type %s %s", attr(ev, "00001000"), attr(ev, "00001002"), attr(ev, "00741000"))
	want := fmt.Sprintf("%s type %s %s", uid, typ, state)
	if got != want {
		body, _ := json.Marshal(ev)
		l.t.Fatalf("event: got %s, want %s (%s)", got, want, body)
	}
	return ev
}
