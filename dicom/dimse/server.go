package dimse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/medrelay/medrelay/dicom/ul"
)

// IncomingStore describes a C-STORE request received by a Server.
type IncomingStore struct {
	CallingAE, CalledAE string
	SOPClassUID         string
	SOPInstanceUID      string
	TransferSyntax      string // of the data set, as negotiated
	MoveOriginatorAE    string // set when the store is a C-MOVE sub-operation
	// AssocID numbers the association within its Server (from 1), so a
	// handler can group stores by association; Event.AssocID matches it.
	AssocID uint64
}

// StoreHandler receives the instances of C-STORE requests.
type StoreHandler interface {
	// Store consumes data (the data set as received) and returns the
	// status to answer. An error reading data means the association
	// failed: nothing must be kept.
	Store(ctx context.Context, in *IncomingStore, data io.Reader) (Status, error)
}

// Event reports the end of an association or a store, for logging.
type Event struct {
	Remote    string
	CallingAE string
	CalledAE  string         // set for the end of an association
	AssocID   uint64         // the association's number (see IncomingStore.AssocID)
	Store     *IncomingStore // set for a store
	Status    Status
	Err       error
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// AETitle is the title we answer to; a request calling another title
	// is rejected (called AE title not recognized). Empty accepts any.
	AETitle string
	// AcceptCalledAE, when set, decides instead of AETitle which called
	// titles are answered (a gateway answers several). Titles come
	// trimmed of padding.
	AcceptCalledAE func(title string) bool
	// Store handles C-STORE; nil offers C-ECHO only.
	Store StoreHandler
	// AcceptSOPClass decides which abstract syntaxes to accept besides
	// verification. Default: IsStorageSOPClass when Store is set.
	AcceptSOPClass func(uid string) bool
	// MaxAssociations bounds concurrent associations; more are rejected
	// as transient (local limit exceeded). Default 64.
	MaxAssociations int
	// UL tunes every association (max PDU, timeouts). Nil means defaults.
	UL *ul.Options
	// OnEvent, when set, is called after each store and association.
	OnEvent func(Event)
}

// Server is a C-ECHO and C-STORE SCP. Serve runs it on a listener; Close
// stops it and waits for every association to end.
type Server struct {
	opts   ServerOptions
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	active atomic.Int64
	nextID atomic.Uint64

	mu     sync.Mutex
	ln     net.Listener
	assocs map[*ul.Assoc]struct{}
	closed bool
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("dimse: server closed")

// NewServer builds a server; opts are copied.
func NewServer(opts ServerOptions) *Server {
	if opts.MaxAssociations <= 0 {
		opts.MaxAssociations = 64
	}
	if opts.AcceptSOPClass == nil && opts.Store != nil {
		opts.AcceptSOPClass = IsStorageSOPClass
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, ctx: ctx, cancel: cancel, assocs: map[*ul.Assoc]struct{}{}}
}

// Serve accepts associations on ln until Close. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			return fmt.Errorf("accept: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(conn)
		}()
	}
}

// Close stops accepting, aborts the associations in progress (their
// partial instances are discarded) and waits for them to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for a := range s.assocs {
		a.Abort()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

func (s *Server) track(a *ul.Assoc, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed {
			return false
		}
		s.assocs[a] = struct{}{}
	} else {
		delete(s.assocs, a)
	}
	return true
}

func (s *Server) emit(e Event) {
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}

func (s *Server) serveConn(conn net.Conn) {
	n := s.active.Add(1)
	defer s.active.Add(-1)
	remote := conn.RemoteAddr().String()
	a, err := ul.Accept(conn, func(rq *ul.AssociateRQ) ul.Decision { return s.decide(rq, n) }, s.opts.UL)
	if err != nil {
		s.emit(Event{Remote: remote, Err: err})
		return
	}
	if !s.track(a, true) {
		a.Abort()
		return
	}
	defer s.track(a, false)
	id := s.nextID.Add(1)
	err = s.serveAssoc(a, id)
	if errors.Is(err, ul.ErrReleased) {
		err = nil
	}
	s.emit(Event{Remote: remote, CallingAE: a.Request().CallingAE, CalledAE: strings.TrimSpace(a.Request().CalledAE), AssocID: id, Err: err})
}

func (s *Server) decide(rq *ul.AssociateRQ, active int64) ul.Decision {
	called := strings.TrimSpace(rq.CalledAE)
	if accept := s.opts.AcceptCalledAE; accept != nil && !accept(called) ||
		accept == nil && s.opts.AETitle != "" && !strings.EqualFold(called, s.opts.AETitle) {
		return ul.Decision{Reject: &ul.AssociateRJ{Result: ul.RejectPermanent, Source: ul.RejectSourceUser, Reason: ul.RejectCalledAE}}
	}
	if active > int64(s.opts.MaxAssociations) {
		return ul.Decision{Reject: &ul.AssociateRJ{Result: ul.RejectTransient, Source: ul.RejectSourcePresent, Reason: ul.RejectLocalLimitHits}}
	}
	return ul.Decision{Contexts: ul.AnswerContexts(rq, s.contextPolicy)}
}

// ExplicitVRBig is the retired big endian syntax, accepted only when
// nothing else is proposed.
const ExplicitVRBig = "1.2.840.10008.1.2.2"

// contextPolicy accepts verification in the little endian syntaxes and
// accepted SOP classes in the first proposed syntax other than explicit
// big endian (retired; taken only when alone): the data set is stored as
// received, so the SCU's order, which follows its files, is kept.
func (s *Server) contextPolicy(abstract string, proposed []string) (string, ul.Result) {
	if abstract == Verification {
		for _, ts := range proposed {
			if ts == ImplicitVRLittle || ts == ExplicitVRLittle {
				return ts, ul.Acceptance
			}
		}
		return "", ul.TransferSyntaxesNotSupported
	}
	if s.opts.AcceptSOPClass == nil || !s.opts.AcceptSOPClass(abstract) {
		return "", ul.AbstractSyntaxNotSupported
	}
	for _, ts := range proposed {
		if validUID(ts) && ts != ExplicitVRBig {
			return ts, ul.Acceptance
		}
	}
	for _, ts := range proposed {
		if ts == ExplicitVRBig {
			return ts, ul.Acceptance
		}
	}
	return "", ul.TransferSyntaxesNotSupported
}
