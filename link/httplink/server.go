package httplink

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/medrelay/medrelay/link"
	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Paths of the HTTP link.
const (
	PathSessions = "/v1/link/sessions"
)

// Refusal is an Accept error with the HTTP status to answer.
type Refusal struct {
	Status int
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// AcceptRequest is what Accept decides on.
type AcceptRequest struct {
	Hello *pb.Hello
	// Token is the bearer token of the Authorization header, else Hello.token.
	Token string
	// HTTP is the request that opens the session (TLS state, remote address).
	HTTP *http.Request
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// Accept decides on a new session and, when it accepts, starts serving
	// it (calling Session.Run) and returns the Session body to answer. A
	// *Refusal error sets the status (default 403).
	Accept func(req AcceptRequest, s *Session) (*pb.Session, error)
	// IdleTimeout ends a session after this long without a request (default 5s).
	IdleTimeout time.Duration
	// Window is how many batches may wait for a poller (default 64).
	Window int
	// MaxBody bounds request bodies (default DefaultMaxBody).
	MaxBody int
	// MaxHello bounds the body of a request that opens a session, read
	// before the dialer is admitted (default DefaultMaxHello).
	MaxHello int
	// Logger receives session events (default slog.Default()).
	Logger *slog.Logger
}

// Server serves the HTTP link's endpoints and keeps its sessions.
type Server struct {
	opts ServerOptions

	mu       sync.Mutex
	sessions map[string]*Session
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// NewServer returns a Server; Register mounts it, Close ends its sessions.
func NewServer(opts ServerOptions) *Server {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = link.DefaultTimeout
	}
	if opts.Window <= 0 {
		opts.Window = link.DefaultWindow
	}
	if opts.MaxHello <= 0 {
		opts.MaxHello = DefaultMaxHello
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, sessions: make(map[string]*Session), stop: make(chan struct{})}
	s.wg.Add(1)
	go s.expire()
	return s
}

// Register mounts the endpoints on mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathSessions, s.serveOpen)
	mux.HandleFunc("POST "+PathSessions+"/{sid}/push", s.withSession(s.servePush))
	mux.HandleFunc("POST "+PathSessions+"/{sid}/poll", s.withSession(s.servePoll))
	mux.HandleFunc("POST "+PathSessions+"/{sid}/announce", s.withSession(s.serveAnnounce))
	mux.HandleFunc("DELETE "+PathSessions+"/{sid}", s.withSession(s.serveDelete))
}

// Close ends every session and stops the expiry loop. Later calls do nothing.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	s.mu.Lock()
	all := s.sessions
	s.sessions = map[string]*Session{}
	s.mu.Unlock()
	for _, x := range all {
		x.Close("relay shutting down")
	}
}

// expire ends sessions whose requests stopped for IdleTimeout.
func (s *Server) expire() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.IdleTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		var idle []*Session
		s.mu.Lock()
		for id, x := range s.sessions {
			since := x.idleSince()
			if !since.IsZero() && time.Since(since) > s.opts.IdleTimeout {
				idle = append(idle, x)
				delete(s.sessions, id)
			}
			select {
			case <-x.done:
				delete(s.sessions, id)
			default:
			}
		}
		s.mu.Unlock()
		for _, x := range idle {
			x.Close("no request for " + s.opts.IdleTimeout.String())
		}
	}
}

func newSessionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// bearer returns the token of an "Authorization: Bearer T" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) serveOpen(w http.ResponseWriter, r *http.Request) {
	c, err := requestCodec(r)
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	body, err := readBody(r.Body, s.opts.MaxHello)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	var h pb.Hello
	if err := c.unmarshal(body, &h); err != nil {
		writeError(w, http.StatusBadRequest, "decode hello: "+err.Error())
		return
	}
	token := bearer(r)
	if token == "" {
		token = h.Token
	}
	sess := newSession(newSessionID(), s.opts.Window)
	sess.begin()
	defer sess.end()
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.mu.Unlock()
	res, err := s.opts.Accept(AcceptRequest{Hello: &h, Token: token, HTTP: r}, sess)
	if err != nil {
		s.mu.Lock()
		delete(s.sessions, sess.id)
		s.mu.Unlock()
		sess.Close("refused")
		status := http.StatusForbidden
		var rf *Refusal
		if errors.As(err, &rf) {
			status = rf.Status
		}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="medrelay"`)
		}
		writeError(w, status, err.Error())
		return
	}
	res.Session = sess.id
	res.IdleTimeoutMs = uint32(s.opts.IdleTimeout / time.Millisecond)
	writeMsg(w, responseCodec(r, c), res)
}

// withSession finds the request's session and keeps it alive meanwhile.
func (s *Server) withSession(fn func(http.ResponseWriter, *http.Request, *Session, codec)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		sess := s.sessions[r.PathValue("sid")]
		s.mu.Unlock()
		if sess == nil {
			writeError(w, http.StatusNotFound, "no such session (it ended or expired): open a new one with POST "+PathSessions)
			return
		}
		c, err := requestCodec(r)
		if err != nil {
			writeError(w, http.StatusUnsupportedMediaType, err.Error())
			return
		}
		sess.begin()
		defer sess.end()
		fn(w, r, sess, c)
	}
}

func (s *Server) servePush(w http.ResponseWriter, r *http.Request, sess *Session, c codec) {
	body, err := readBody(r.Body, s.opts.MaxBody)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	envs, err := DecodePush(body, c.json)
	if err != nil {
		writeError(w, http.StatusBadRequest, "decode push: "+err.Error())
		return
	}
	rejected, err := sess.push(r.Context(), envs)
	if err != nil {
		status := http.StatusServiceUnavailable
		if errors.Is(err, errSessionEnded) || sess.Err() != nil {
			status = http.StatusGone
		}
		writeError(w, status, "push not stored: "+err.Error())
		return
	}
	writeMsg(w, responseCodec(r, c), &pb.PushResult{Rejected: rejected})
}

func (s *Server) servePoll(w http.ResponseWriter, r *http.Request, sess *Session, c codec) {
	body, err := readBody(r.Body, s.opts.MaxBody)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	var p pb.Poll
	if err := c.unmarshal(body, &p); err != nil {
		writeError(w, http.StatusBadRequest, "decode poll: "+err.Error())
		return
	}
	wait := time.Duration(p.WaitMs) * time.Millisecond
	if p.WaitMs == 0 {
		wait = DefaultWait * time.Millisecond
	}
	wait = min(wait, MaxWait*time.Millisecond)
	cursor, envs, err := sess.poll(r.Context(), p.Ack, p.Rejected, wait)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		if errors.Is(err, errAckAhead) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeError(w, http.StatusGone, "session ended: "+err.Error())
		return
	}
	rc := responseCodec(r, c)
	b, err := EncodePollResult(cursor, envs, rc.json)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, rc, b)
}

func (s *Server) serveAnnounce(w http.ResponseWriter, r *http.Request, sess *Session, c codec) {
	body, err := readBody(r.Body, s.opts.MaxBody)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	var a pb.Announce
	if err := c.unmarshal(body, &a); err != nil {
		writeError(w, http.StatusBadRequest, "decode announce: "+err.Error())
		return
	}
	if err := sess.announce(a.Subtree); err != nil {
		writeError(w, http.StatusGone, err.Error())
		return
	}
	writeMsg(w, responseCodec(r, c), &a)
}

func (s *Server) serveDelete(w http.ResponseWriter, _ *http.Request, sess *Session, _ codec) {
	s.mu.Lock()
	delete(s.sessions, sess.id)
	s.mu.Unlock()
	sess.Close("closed by the peer")
	w.WriteHeader(http.StatusNoContent)
}
