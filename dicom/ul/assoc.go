package ul

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Assoc is one DICOM association over one connection.
type Assoc struct {
	conn      net.Conn
	br        *bufio.Reader
	opts      Options
	requestor bool
	rq        *AssociateRQ
	ac        *AssociateAC
	sendMax   int // largest PDU body we send

	mu        sync.Mutex // guards state
	state     State
	closeOnce sync.Once
	closeErr  error

	wmu  sync.Mutex // serialises writes; guards wbuf
	wbuf []byte

	// Read side, used by one goroutine at a time.
	hdr     [pduHeaderLength]byte
	pduLeft uint32 // bytes left in the current P-DATA-TF PDU
	pdvLeft uint32 // bytes left in the current PDV
	pdv     PDV    // header of the current PDV (Data unused)
	inData  bool   // a data set message has not been read to its end
}

// Request describes the association a requestor proposes.
type Request struct {
	CallingAE string // our title
	CalledAE  string // the peer's title
	// Contexts to propose; zero IDs are numbered 1, 3, 5... in order.
	Contexts []PresentationContext
	Roles    []RoleSelection
}

// Dial connects to addr and negotiates an association (Sta4, Sta5, Sta6).
// A rejection is returned as an AssociateRJ error, an abort as Abort.
func Dial(ctx context.Context, addr string, req Request, opts *Options) (*Assoc, error) {
	o := opts.withDefaults()
	rq, err := buildRequest(req, &o)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: o.AssocTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	a := newAssoc(conn, o, true)
	a.rq = rq
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := a.request(); err != nil {
		a.closeConn()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("associate with %s: %w", addr, ctx.Err())
		}
		return nil, fmt.Errorf("associate with %s: %w", addr, err)
	}
	return a, nil
}

func buildRequest(req Request, o *Options) (*AssociateRQ, error) {
	if len(req.Contexts) == 0 {
		return nil, errors.New("associate: no presentation context to propose")
	}
	if len(req.Contexts) > MaxPresentationContexts {
		return nil, fmt.Errorf("associate: %d presentation contexts (at most %d)", len(req.Contexts), MaxPresentationContexts)
	}
	rq := &AssociateRQ{
		ProtocolVersion: 1,
		CalledAE:        req.CalledAE,
		CallingAE:       req.CallingAE,
		AppContext:      ApplicationContext,
		User:            o.userInfo(),
	}
	rq.User.Roles = req.Roles
	for i, pc := range req.Contexts {
		if pc.ID == 0 {
			pc.ID = byte(2*i + 1)
		}
		rq.Contexts = append(rq.Contexts, pc)
	}
	return rq, nil
}

func newAssoc(conn net.Conn, o Options, requestor bool) *Assoc {
	return &Assoc{
		conn:      conn,
		br:        bufio.NewReaderSize(conn, 64<<10),
		opts:      o,
		requestor: requestor,
		state:     Sta4,
	}
}

// request sends the A-ASSOCIATE-RQ and waits for the answer.
func (a *Assoc) request() error {
	a.setDeadline(a.opts.AssocTimeout)
	if err := a.writePDU(a.rq.append(nil)); err != nil {
		return err
	}
	a.setState(Sta5)
	h, err := readHeader(a.br, a.hdr[:])
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	body, err := a.readSmallBody(h)
	if err != nil {
		return a.fail(err)
	}
	pdu, err := decodeBody(h, body)
	if err != nil {
		return a.fail(err)
	}
	switch p := pdu.(type) {
	case *AssociateAC:
		return a.established(p)
	case AssociateRJ:
		a.closeConn()
		return p
	case Abort:
		a.closeConn()
		return p
	}
	return a.unexpected(h.Type)
}

// established checks an A-ASSOCIATE-AC against our request (AE-3).
func (a *Assoc) established(ac *AssociateAC) error {
	proposed := make(map[byte]string, len(a.rq.Contexts))
	for _, pc := range a.rq.Contexts {
		proposed[pc.ID] = pc.AbstractSyntax
	}
	for i := range ac.Contexts {
		pc := &ac.Contexts[i]
		as, ok := proposed[pc.ID]
		if !ok {
			a.sendAbort(Abort{Source: AbortSourceProvider, Reason: AbortInvalidParam})
			return malformed("accepted presentation context %d was never proposed", pc.ID)
		}
		pc.AbstractSyntax = as
		if pc.Result == Acceptance && len(pc.TransferSyntaxes) != 1 {
			a.sendAbort(Abort{Source: AbortSourceProvider, Reason: AbortInvalidParam})
			return malformed("accepted presentation context %d without a transfer syntax", pc.ID)
		}
	}
	a.ac = ac
	a.setSendMax(ac.User.MaxPDULength)
	a.setState(Sta6)
	_ = a.conn.SetDeadline(time.Time{})
	return nil
}

func (a *Assoc) setSendMax(peer uint32) {
	n := uint32(unlimitedSendPDU)
	if peer != 0 && peer < n {
		n = peer
	}
	if m := a.opts.MaxSendPDULength; m != 0 && m < n {
		n = m
	}
	if n < 64 {
		n = 64 // absurd announcements still make progress
	}
	a.sendMax = int(n)
}

// setDeadline sets the connection deadline d from now; d == 0 means the
// network timeout.
func (a *Assoc) setDeadline(d time.Duration) {
	if d == 0 {
		d = a.opts.NetworkTimeout
	}
	if d < 0 {
		_ = a.conn.SetDeadline(time.Time{})
		return
	}
	_ = a.conn.SetDeadline(time.Now().Add(d))
}

// writePDU sends one complete PDU with a single write.
func (a *Assoc) writePDU(b []byte) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return a.writeLocked(b)
}

func (a *Assoc) writeLocked(b []byte) error {
	if d := a.opts.NetworkTimeout; d > 0 {
		_ = a.conn.SetWriteDeadline(time.Now().Add(d))
	}
	if _, err := a.conn.Write(b); err != nil {
		return fmt.Errorf("write PDU: %w", err)
	}
	return nil
}

// Request returns the A-ASSOCIATE-RQ of the association (ours or the peer's).
func (a *Assoc) Request() *AssociateRQ { return a.rq }

// Answer returns the A-ASSOCIATE-AC of the association.
func (a *Assoc) Answer() *AssociateAC { return a.ac }

// RemoteAddr is the peer's network address.
func (a *Assoc) RemoteAddr() net.Addr { return a.conn.RemoteAddr() }

// SendPDULength is the largest PDU body this side sends.
func (a *Assoc) SendPDULength() int { return a.sendMax }

// Context returns the accepted presentation context with the given ID.
func (a *Assoc) Context(id byte) (PresentationContext, bool) {
	if a.ac == nil {
		return PresentationContext{}, false
	}
	for _, pc := range a.ac.Contexts {
		if pc.ID == id && pc.Result == Acceptance {
			return pc, true
		}
	}
	return PresentationContext{}, false
}

// FindContext returns the ID of an accepted context for the abstract
// syntax, preferring the transfer syntaxes in the order given; with no
// transfer syntax given, any accepted one will do.
func (a *Assoc) FindContext(abstract string, ts ...string) (PresentationContext, bool) {
	if a.ac == nil {
		return PresentationContext{}, false
	}
	for _, want := range ts {
		for _, pc := range a.ac.Contexts {
			if pc.Result == Acceptance && pc.AbstractSyntax == abstract && pc.TransferSyntaxes[0] == want {
				return pc, true
			}
		}
	}
	if len(ts) > 0 {
		return PresentationContext{}, false
	}
	for _, pc := range a.ac.Contexts {
		if pc.Result == Acceptance && pc.AbstractSyntax == abstract {
			return pc, true
		}
	}
	return PresentationContext{}, false
}
