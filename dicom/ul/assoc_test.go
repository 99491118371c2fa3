package ul

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

const (
	verification = "1.2.840.10008.1.1"
	ctImage      = "1.2.840.10008.5.1.4.1.1.2"
	implicitLE   = "1.2.840.10008.1.2"
	explicitLE   = "1.2.840.10008.1.2.1"
	jpegBaseline = "1.2.840.10008.1.2.4.50"
)

// acceptAll accepts every abstract syntax except "reject.me" and prefers
// explicit LE when offered.
func acceptAll(abstract string, proposed []string) (string, Result) {
	if abstract == "reject.me" {
		return "", AbstractSyntaxNotSupported
	}
	for _, ts := range proposed {
		if ts == explicitLE {
			return ts, Acceptance
		}
	}
	for _, ts := range proposed {
		if ts == implicitLE {
			return ts, Acceptance
		}
	}
	return "", TransferSyntaxesNotSupported
}

// pair starts an acceptor on loopback and dials it; the acceptor's side is
// delivered on the returned channel.
func pair(t *testing.T, req Request, scuOpts, scpOpts *Options, decide Decider) (*Assoc, <-chan *Assoc) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if decide == nil {
		decide = func(rq *AssociateRQ) Decision { return Decision{Contexts: AnswerContexts(rq, acceptAll)} }
	}
	ch := make(chan *Assoc, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		a, err := Accept(conn, decide, scpOpts)
		if err == nil {
			ch <- a
		}
	}()
	t.Cleanup(wg.Wait)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := Dial(ctx, ln.Addr().String(), req, scuOpts)
	if err != nil {
		return nil, ch
	}
	t.Cleanup(func() { a.Abort() })
	return a, ch
}

func TestNegotiationResults(t *testing.T) {
	var ctxs []PresentationContext
	for i := 0; i < MaxPresentationContexts; i++ {
		ctxs = append(ctxs, PresentationContext{AbstractSyntax: fmt.Sprintf("1.2.3.%d", i), TransferSyntaxes: []string{implicitLE, explicitLE}})
	}
	ctxs[1].AbstractSyntax = "reject.me"
	ctxs[2].TransferSyntaxes = []string{jpegBaseline}
	scu, ch := pair(t, Request{CallingAE: "SCU", CalledAE: "SCP", Contexts: ctxs}, nil, nil, nil)
	if scu == nil {
		t.Fatal("association failed")
	}
	scp := <-ch
	if scp == nil {
		t.Fatal("acceptor failed")
	}
	defer scp.Abort()
	ac := scu.Answer()
	if got, want := len(ac.Contexts), MaxPresentationContexts; got != want {
		t.Fatalf("answered %d contexts, want %d", got, want)
	}
	tests := []struct {
		name   string
		idx    int
		result Result
		ts     string
	}{
		{"accepted prefers explicit", 0, Acceptance, explicitLE},
		{"abstract syntax rejected", 1, AbstractSyntaxNotSupported, ""},
		{"transfer syntax rejected", 2, TransferSyntaxesNotSupported, ""},
		{"last of 128", 127, Acceptance, explicitLE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pc := ac.Contexts[tc.idx]
			if pc.Result != tc.result {
				t.Fatalf("result %v, want %v", pc.Result, tc.result)
			}
			if tc.ts != "" && pc.TransferSyntaxes[0] != tc.ts {
				t.Fatalf("transfer syntax %q, want %q", pc.TransferSyntaxes[0], tc.ts)
			}
		})
	}
	if got := scp.Request().CallingAE; got != "SCU" {
		t.Errorf("calling AE %q, want SCU", got)
	}
	if got := scp.Request().User.ImplementationVersion; got != ImplementationVersion {
		t.Errorf("version name %q", got)
	}
	if _, ok := scu.FindContext("reject.me"); ok {
		t.Error("rejected context found")
	}
}

func TestRejectAssociation(t *testing.T) {
	decide := func(rq *AssociateRQ) Decision {
		return Decision{Reject: &AssociateRJ{RejectPermanent, RejectSourceUser, RejectCalledAE}}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		_, err = Accept(conn, decide, nil)
		done <- err
	}()
	_, err := Dial(context.Background(), ln.Addr().String(),
		Request{CalledAE: "WRONG", Contexts: []PresentationContext{{AbstractSyntax: verification, TransferSyntaxes: []string{implicitLE}}}}, nil)
	var rj AssociateRJ
	if !errors.As(err, &rj) || rj.Reason != RejectCalledAE {
		t.Fatalf("dial error %v, want called AE rejection", err)
	}
	if err := <-done; !errors.As(err, &rj) {
		t.Fatalf("accept error %v", err)
	}
}

// TestFragmentation sends messages through peers announcing 4096 and
// 131072 bytes and checks every PDU respects the limit.
func TestFragmentation(t *testing.T) {
	for _, max := range []uint32{4096, 16384, 131072} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			req := Request{Contexts: []PresentationContext{{AbstractSyntax: ctImage, TransferSyntaxes: []string{explicitLE}}}}
			scu, ch := pair(t, req, nil, &Options{MaxPDULength: max}, nil)
			scp := <-ch
			if scu == nil || scp == nil {
				t.Fatal("association failed")
			}
			if got := scu.SendPDULength(); got != int(max) {
				t.Fatalf("send limit %d, want %d", got, max)
			}
			chunk := int(max) - pduHeaderLength - pdvHeaderLength
			all := bytes.Repeat([]byte("0123456789abcdef"), 40000)
			// Known lengths, then unknown ones (n < 0: read to EOF, in
			// short reads), at the PDU boundaries.
			for _, size := range []int{len(all), 0, 1, chunk, chunk + 1, 2 * chunk, len(all) - 1} {
				for _, known := range []bool{true, false} {
					data := all[:size]
					var r io.Reader = bytes.NewReader(data)
					n := int64(size)
					if !known {
						r, n = iotest.HalfReader(r), -1
					}
					cmd := bytes.Repeat([]byte{7}, 5000)
					errc := make(chan error, 1)
					go func() { errc <- scu.WriteMessage(1, cmd, r, n) }()
					id, gotCmd, err := scp.ReadCommand()
					if err != nil || id != 1 || !bytes.Equal(gotCmd, cmd) {
						t.Fatalf("command: id %d, %d bytes, %v", id, len(gotCmd), err)
					}
					got, err := io.ReadAll(scp.DataReader(id))
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("data set of %d bytes (known length %t): got %d bytes, %v", size, known, len(got), err)
					}
					if err := <-errc; err != nil {
						t.Fatal(err)
					}
				}
			}
			releaseBoth(t, scu, scp)
		})
	}
}

func releaseBoth(t *testing.T, scu, scp *Assoc) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, _, err := scp.ReadCommand()
		errc <- err
	}()
	if err := scu.Release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrReleased) {
		t.Fatalf("acceptor read %v, want ErrReleased", err)
	}
}

func TestReleaseCollision(t *testing.T) {
	req := Request{Contexts: []PresentationContext{{AbstractSyntax: verification, TransferSyntaxes: []string{implicitLE}}}}
	scu, ch := pair(t, req, nil, nil, nil)
	scp := <-ch
	if scu == nil || scp == nil {
		t.Fatal("association failed")
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, a := range []*Assoc{scu, scp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.Release()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("side %d: release: %v", i, err)
		}
	}
	if scu.State() != Sta1 || scp.State() != Sta1 {
		t.Errorf("states %v %v, want Sta1", scu.State(), scp.State())
	}
}

func TestAbortReachesPeer(t *testing.T) {
	req := Request{Contexts: []PresentationContext{{AbstractSyntax: verification, TransferSyntaxes: []string{implicitLE}}}}
	scu, ch := pair(t, req, nil, nil, nil)
	scp := <-ch
	if scu == nil || scp == nil {
		t.Fatal("association failed")
	}
	if err := scu.Abort(); err != nil {
		t.Fatal(err)
	}
	_, _, err := scp.ReadCommand()
	var ab Abort
	if !errors.As(err, &ab) || ab.Source != AbortSourceUser {
		t.Fatalf("read after abort: %v", err)
	}
}

func TestARTIMWithoutRequest(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, _ := ln.Accept()
	_, err = Accept(conn, nil, &Options{AssocTimeout: 50 * time.Millisecond})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("accept without request: %v, want a timeout", err)
	}
}

func TestUnexpectedPDUAborts(t *testing.T) {
	req := Request{Contexts: []PresentationContext{{AbstractSyntax: verification, TransferSyntaxes: []string{implicitLE}}}}
	scu, ch := pair(t, req, nil, nil, nil)
	scp := <-ch
	if scu == nil || scp == nil {
		t.Fatal("association failed")
	}
	// A second A-ASSOCIATE-RQ in Sta6 is unexpected.
	if err := scu.writePDU(scu.rq.append(nil)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := scp.ReadCommand(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("acceptor: %v, want ErrMalformed", err)
	}
	_, _, err := scu.ReadCommand()
	var ab Abort
	if !errors.As(err, &ab) || ab.Reason != AbortUnexpectedPDU {
		t.Fatalf("requestor: %v, want abort for an unexpected PDU", err)
	}
}

func TestPDURoundTrip(t *testing.T) {
	rq := &AssociateRQ{
		ProtocolVersion: 1, CalledAE: "ANY-SCP", CallingAE: "ME", AppContext: ApplicationContext,
		Contexts: []PresentationContext{{ID: 1, AbstractSyntax: ctImage, TransferSyntaxes: []string{implicitLE, explicitLE}}},
		User: UserInfo{MaxPDULength: 16384, ImplementationClassUID: ImplementationClassUID, ImplementationVersion: "X",
			Roles: []RoleSelection{{SOPClassUID: ctImage, SCU: true, SCP: true}}, HasAsync: true, AsyncInvoked: 1, AsyncPerformed: 1,
			Other: []RawItem{{Type: 0x58, Data: []byte{1, 0, 0, 1, 'u', 0, 0}}}},
	}
	got, err := DecodePDU(rq.append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rq) {
		t.Fatalf("got %+v\nwant %+v", got, rq)
	}
	for _, pdu := range [][]byte{
		AssociateRJ{1, 1, 3}.append(nil), Abort{2, 6}.append(nil),
		appendRelease(nil, TypeReleaseRQ), appendRelease(nil, TypeReleaseRP),
	} {
		if _, err := DecodePDU(pdu); err != nil {
			t.Errorf("decode % x: %v", pdu, err)
		}
	}
}
