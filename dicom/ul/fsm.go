package ul

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// State is a state of the upper-layer state machine (PS3.8 section 9.2).
type State int

// The thirteen states of PS3.8 table 9-10.
const (
	Sta1  State = iota + 1 // idle
	Sta2                   // transport open, awaiting A-ASSOCIATE-RQ
	Sta3                   // awaiting local A-ASSOCIATE response
	Sta4                   // awaiting transport connection to open
	Sta5                   // awaiting A-ASSOCIATE-AC or -RJ
	Sta6                   // association established, ready for data
	Sta7                   // awaiting A-RELEASE-RP
	Sta8                   // awaiting local A-RELEASE response
	Sta9                   // release collision requestor: awaiting local response
	Sta10                  // release collision acceptor: awaiting A-RELEASE-RP
	Sta11                  // release collision requestor: awaiting A-RELEASE-RP
	Sta12                  // release collision acceptor: awaiting local response
	Sta13                  // awaiting transport close
)

func (s State) String() string { return fmt.Sprintf("Sta%d", int(s)) }

// Errors returned once an association has ended.
var (
	// ErrReleased is returned by reads after the peer released the
	// association in order.
	ErrReleased = errors.New("association released by peer")
	// ErrClosed is returned when the association is already over.
	ErrClosed = errors.New("association closed")
)

func (a *Assoc) setState(s State) {
	a.mu.Lock()
	a.state = s
	a.mu.Unlock()
}

// State reports the current state of the association.
func (a *Assoc) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// onPDU handles a PDU other than P-DATA-TF that arrived while reading
// messages in Sta6. It always ends the read with an error.
func (a *Assoc) onPDU(h header) error {
	body, err := a.readSmallBody(h)
	if err != nil {
		return a.fail(err)
	}
	switch h.Type {
	case TypeReleaseRQ: // AR-2 then AR-4: answer, wait for the peer to close
		a.setState(Sta8)
		if err := a.writePDU(appendRelease(nil, TypeReleaseRP)); err != nil {
			return a.fail(err)
		}
		a.setState(Sta13)
		a.awaitClose()
		return ErrReleased
	case TypeAbort: // AA-3
		a.closeConn()
		return Abort{Source: body[2], Reason: body[3]}
	}
	return a.unexpected(h.Type)
}

// readSmallBody reads the body of a non-P-DATA PDU, within its limits.
func (a *Assoc) readSmallBody(h header) ([]byte, error) {
	limit := uint32(4)
	switch h.Type {
	case TypeAssociateRQ, TypeAssociateAC:
		limit = MaxAssociatePDULength
	case TypeAssociateRJ, TypeReleaseRQ, TypeReleaseRP, TypeAbort:
		if h.Length != 4 {
			return nil, malformed("PDU type %#02x with length %d (want 4)", h.Type, h.Length)
		}
	default:
		return nil, malformed("unknown PDU type %#02x", h.Type)
	}
	if h.Length > limit {
		return nil, malformed("PDU type %#02x length %d exceeds %d", h.Type, h.Length, limit)
	}
	body := make([]byte, h.Length)
	if _, err := io.ReadFull(a.br, body); err != nil {
		return nil, fmt.Errorf("read PDU body: %w", err)
	}
	return body, nil
}

// unexpected aborts on a PDU that is not valid in the current state (AA-8).
func (a *Assoc) unexpected(typ byte) error {
	st := a.State()
	a.sendAbort(Abort{Source: AbortSourceProvider, Reason: AbortUnexpectedPDU})
	return fmt.Errorf("%w: PDU type %#02x in state %s", ErrMalformed, typ, st)
}

// fail aborts after a protocol or transport error (AA-8, AA-4).
func (a *Assoc) fail(err error) error {
	if errors.Is(err, ErrMalformed) {
		a.sendAbort(Abort{Source: AbortSourceProvider, Reason: AbortInvalidParam})
	} else {
		a.closeConn()
	}
	return err
}

// Release ends the association in order (A-RELEASE request). It handles a
// release collision: if the peer asks for release at the same time, the
// requestor answers first (Sta9, Sta11) and the acceptor second (Sta10,
// Sta12), as PS3.8 prescribes. P-DATA still arriving is discarded.
func (a *Assoc) Release() error {
	if a.State() != Sta6 {
		a.closeConn()
		return ErrClosed
	}
	a.setState(Sta7)
	if err := a.writePDU(appendRelease(nil, TypeReleaseRQ)); err != nil {
		return a.fail(err)
	}
	a.setDeadline(a.opts.AssocTimeout)
	for {
		h, err := a.skipToControlPDU()
		if err != nil {
			return a.fail(fmt.Errorf("release: %w", err))
		}
		done, err := a.onReleasePDU(h)
		if err != nil || done {
			return err
		}
	}
}

// onReleasePDU advances the release states on one PDU.
func (a *Assoc) onReleasePDU(h header) (done bool, err error) {
	body, err := a.readSmallBody(h)
	if err != nil {
		return true, a.fail(err)
	}
	st := a.State()
	switch {
	case h.Type == TypeReleaseRP && (st == Sta7 || st == Sta11):
		a.setState(Sta1) // AR-3
		a.closeConn()
		return true, nil
	case h.Type == TypeReleaseRP && st == Sta10:
		a.setState(Sta12) // AR-10, then AR-4 answers
		err := a.writePDU(appendRelease(nil, TypeReleaseRP))
		a.setState(Sta13)
		a.awaitClose()
		return true, err
	case h.Type == TypeReleaseRQ && st == Sta7:
		return a.collide()
	case h.Type == TypeAbort:
		a.closeConn()
		return true, Abort{Source: body[2], Reason: body[3]}
	}
	return true, a.unexpected(h.Type)
}

// collide handles an A-RELEASE-RQ received while awaiting A-RELEASE-RP
// (AR-8): the requestor answers now, the acceptor waits for the answer.
func (a *Assoc) collide() (bool, error) {
	if !a.requestor {
		a.setState(Sta10)
		return false, nil
	}
	a.setState(Sta9)
	if err := a.writePDU(appendRelease(nil, TypeReleaseRP)); err != nil { // AR-9
		return true, a.fail(err)
	}
	a.setState(Sta11)
	return false, nil
}

// skipToControlPDU discards P-DATA (AR-7 delivers it to a user that no
// longer wants it) and returns the header of the next other PDU.
func (a *Assoc) skipToControlPDU() (header, error) {
	if a.pduLeft > 0 {
		if _, err := a.br.Discard(int(a.pduLeft)); err != nil {
			return header{}, err
		}
		a.pduLeft, a.pdvLeft = 0, 0
	}
	for {
		h, err := readHeader(a.br, a.hdr[:])
		if err != nil {
			return h, err
		}
		if h.Type != TypePData {
			return h, nil
		}
		if h.Length > MaxPDataPDULength {
			return h, malformed("P-DATA-TF length %d exceeds %d", h.Length, MaxPDataPDULength)
		}
		if _, err := a.br.Discard(int(h.Length)); err != nil {
			return h, err
		}
	}
}

// Abort ends the association at once with an A-ABORT from the service
// user (AA-1).
func (a *Assoc) Abort() error {
	if a.State() == Sta1 {
		return ErrClosed
	}
	a.sendAbort(Abort{Source: AbortSourceUser, Reason: AbortNotSpecified})
	return nil
}

func (a *Assoc) sendAbort(ab Abort) {
	_ = a.writePDU(ab.append(nil))
	a.closeConn()
}

// awaitClose waits, at most for the ARTIM timer, for the peer to close the
// transport connection, then closes our side (Sta13 to Sta1).
func (a *Assoc) awaitClose() {
	_ = a.conn.SetReadDeadline(time.Now().Add(a.opts.AssocTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(a.br, MaxAssociatePDULength))
	a.closeConn()
}

func (a *Assoc) closeConn() {
	a.mu.Lock()
	a.state = Sta1
	a.mu.Unlock()
	a.closeOnce.Do(func() { a.closeErr = a.conn.Close() })
}

// Close releases an established association and closes the connection
// in any other state. It is safe to call more than once.
func (a *Assoc) Close() error {
	if a.State() == Sta6 {
		return a.Release()
	}
	a.closeConn()
	return nil
}
