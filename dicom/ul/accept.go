package ul

import (
	"fmt"
	"net"
	"time"
)

// Decision is an acceptor's answer to an A-ASSOCIATE-RQ: either Reject is
// set, or Contexts answers every proposed context.
type Decision struct {
	Contexts []PresentationContext // one per proposed context, same IDs
	Roles    []RoleSelection       // role selection answers, if any
	Reject   *AssociateRJ
}

// Decider decides an association request. It must not keep rq.
type Decider func(rq *AssociateRQ) Decision

// ContextPolicy picks the result for one proposed context: the transfer
// syntax to accept (one of proposed) with Acceptance, or a rejection result.
type ContextPolicy func(abstract string, proposed []string) (ts string, r Result)

// AnswerContexts applies policy to every context of rq. Contexts with an
// even or repeated ID are rejected with NoReason.
func AnswerContexts(rq *AssociateRQ, policy ContextPolicy) []PresentationContext {
	seen := make(map[byte]bool, len(rq.Contexts))
	out := make([]PresentationContext, 0, len(rq.Contexts))
	for _, pc := range rq.Contexts {
		ans := PresentationContext{ID: pc.ID, AbstractSyntax: pc.AbstractSyntax, Result: NoReason}
		if pc.ID%2 == 1 && !seen[pc.ID] {
			ts, r := policy(pc.AbstractSyntax, pc.TransferSyntaxes)
			ans.Result = r
			if r == Acceptance {
				ans.TransferSyntaxes = []string{ts}
			}
		}
		seen[pc.ID] = true
		out = append(out, ans)
	}
	return out
}

// Accept reads an A-ASSOCIATE-RQ from a freshly accepted connection (Sta2,
// under the ARTIM timer), lets decide answer it (Sta3) and sends the
// A-ASSOCIATE-AC (Sta6) or -RJ (Sta13). It takes ownership of conn.
func Accept(conn net.Conn, decide Decider, opts *Options) (*Assoc, error) {
	a := newAssoc(conn, opts.withDefaults(), false)
	a.setState(Sta2)
	a.setDeadline(a.opts.AssocTimeout)
	rq, err := a.readRequest()
	if err != nil {
		a.closeConn()
		return nil, fmt.Errorf("accept association: %w", err)
	}
	a.rq = rq
	a.setState(Sta3)
	d := a.check(rq)
	if d.Reject == nil {
		d = decide(rq)
	}
	if d.Reject != nil {
		a.reject(*d.Reject)
		return nil, fmt.Errorf("accept association from %q: %w", rq.CallingAE, *d.Reject)
	}
	if err := a.acceptWith(d); err != nil {
		a.closeConn()
		return nil, fmt.Errorf("accept association: %w", err)
	}
	return a, nil
}

func (a *Assoc) readRequest() (*AssociateRQ, error) {
	h, err := readHeader(a.br, a.hdr[:])
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	if h.Type != TypeAssociateRQ {
		a.sendAbort(Abort{Source: AbortSourceProvider, Reason: AbortUnexpectedPDU})
		return nil, malformed("PDU type %#02x where A-ASSOCIATE-RQ was expected", h.Type)
	}
	body, err := a.readSmallBody(h)
	if err != nil {
		return nil, a.fail(err)
	}
	pdu, err := decodeBody(h, body)
	if err != nil {
		return nil, a.fail(err)
	}
	return pdu.(*AssociateRQ), nil
}

// check rejects what no decider can accept (PS3.8 9.3.2, 7.1.1.2).
func (a *Assoc) check(rq *AssociateRQ) Decision {
	switch {
	case rq.ProtocolVersion&1 == 0:
		return Decision{Reject: &AssociateRJ{RejectPermanent, RejectSourceACSE, RejectProtoVersion}}
	case rq.AppContext != ApplicationContext:
		return Decision{Reject: &AssociateRJ{RejectPermanent, RejectSourceUser, RejectAppContext}}
	}
	return Decision{}
}

// reject sends an A-ASSOCIATE-RJ and waits under ARTIM for the peer to
// close (AE-8, Sta13).
func (a *Assoc) reject(rj AssociateRJ) {
	if err := a.writePDU(rj.append(nil)); err != nil {
		a.closeConn()
		return
	}
	a.setState(Sta13)
	a.awaitClose()
}

func (a *Assoc) acceptWith(d Decision) error {
	if len(d.Contexts) != len(a.rq.Contexts) {
		return fmt.Errorf("decider answered %d of %d presentation contexts", len(d.Contexts), len(a.rq.Contexts))
	}
	ac := &AssociateAC{
		ProtocolVersion: 1,
		CalledAE:        a.rq.CalledAE,
		CallingAE:       a.rq.CallingAE,
		AppContext:      ApplicationContext,
		Contexts:        d.Contexts,
		User:            a.opts.userInfo(),
	}
	ac.User.Roles = d.Roles
	if err := a.writePDU(ac.append(nil)); err != nil {
		return err
	}
	a.ac = ac
	a.setSendMax(a.rq.User.MaxPDULength)
	a.setState(Sta6)
	_ = a.conn.SetDeadline(time.Time{})
	return nil
}
