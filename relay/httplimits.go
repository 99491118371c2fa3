package relay

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// bodyDeadline bounds how long a request's body may stall
// (limits.http_body_timeout: no byte for that long): a peer that never
// finishes a body loses the connection, while a large upload that keeps
// moving takes as long as it needs. Once the body is read the deadline
// is lifted, so a long poll waits as long as it asked to (the HTTP link
// bounds that itself). Requests without a body have nothing to wait for:
// the server's ReadHeaderTimeout and IdleTimeout cover them.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body == nil || req.Body == http.NoBody {
			h.ServeHTTP(w, req)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			h.ServeHTTP(w, req)
			return
		}
		req.Body = &deadlineBody{ReadCloser: req.Body, rc: rc, d: d}
		h.ServeHTTP(w, req)
	})
}

// deadlineBody moves the read deadline on while bytes arrive, and lifts
// it once the body is read to its end.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	d    time.Duration
	last time.Time // when the deadline was last moved
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case b.done:
	case errors.Is(err, io.EOF):
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	case n > 0 && time.Since(b.last) > b.d/8:
		b.last = time.Now()
		b.rc.SetReadDeadline(b.last.Add(b.d))
	}
	return n, err
}
