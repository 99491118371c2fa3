package dimse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom/ul"
)

func u16(v uint16) *uint16 { return &v }

func TestCommandRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
	}{
		{"echo rq", Command{AffectedSOPClassUID: Verification, CommandField: CEchoRQ, MessageID: 7}},
		{"store rq", Command{AffectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2", CommandField: CStoreRQ, MessageID: 1,
			HasDataSet: true, AffectedSOPInstanceUID: "1.2.3.4.5", MoveOriginatorAE: "MOVER", MoveOriginatorMessageID: u16(3)}},
		{"move rsp", Command{AffectedSOPClassUID: StudyRootMove, CommandField: CMoveRSP, MessageIDBeingRespondedTo: 2,
			Status: StatusPending, Remaining: u16(5), Completed: u16(1), Failed: u16(0), Warning: u16(0)}},
		{"cancel", Command{CommandField: CCancelRQ, MessageIDBeingRespondedTo: 9}},
		{"move rq", Command{AffectedSOPClassUID: StudyRootMove, CommandField: CMoveRQ, MessageID: 4, MoveDestination: "DEST1", HasDataSet: true, Priority: PriorityHigh}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.cmd.Encode()
			if len(b)%2 != 0 {
				t.Fatalf("odd command length %d", len(b))
			}
			got, err := DecodeCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.cmd) {
				t.Fatalf("got %+v\nwant %+v", *got, tc.cmd)
			}
		})
	}
}

func TestIsStorageSOPClass(t *testing.T) {
	tests := []struct {
		uid  string
		want bool
	}{
		{"1.2.840.10008.5.1.4.1.1.2", true},     // CT image
		{"1.2.840.10008.5.1.4.1.1.88.22", true}, // enhanced SR
		{"1.2.840.10008.5.1.4.38.1", true},      // hanging protocol
		{"1.3.12.2.1107.5.9.1", true},           // private (Siemens CSA non-image)
		{StudyRootFind, false},
		{"1.2.840.10008.5.1.4.31", false}, // modality worklist
		{"1.2.840.10008.1.1", false},
		{"../../etc", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := IsStorageSOPClass(tc.uid); got != tc.want {
			t.Errorf("IsStorageSOPClass(%q) = %t, want %t", tc.uid, got, tc.want)
		}
	}
}

type memStore struct {
	mu   sync.Mutex
	got  map[string][]byte
	errs []error
}

func (m *memStore) Store(ctx context.Context, in *IncomingStore, r io.Reader) (Status, error) {
	b, err := io.ReadAll(r)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.errs = append(m.errs, err)
		return StatusOutOfResources, err
	}
	m.got[in.SOPInstanceUID] = b
	return StatusSuccess, nil
}

func startServer(t *testing.T, opts ServerOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(opts)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestEchoAndStore(t *testing.T) {
	st := &memStore{got: map[string][]byte{}}
	addr := startServer(t, ServerOptions{AETitle: "SCP", Store: st})
	ct := "1.2.840.10008.5.1.4.1.1.2"
	req := ul.Request{CallingAE: "SCU", CalledAE: "SCP", Contexts: []ul.PresentationContext{
		{AbstractSyntax: Verification, TransferSyntaxes: []string{ImplicitVRLittle}},
		{AbstractSyntax: ct, TransferSyntaxes: []string{ExplicitVRLittle}},
		{AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{ExplicitVRLittle}},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, req, &ul.Options{MaxSendPDULength: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Assoc().Answer().Contexts[2].Result; got != ul.AbstractSyntaxNotSupported {
		t.Errorf("find context: %v, want abstract syntax not supported", got)
	}
	if err := c.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{1, 2, 3, 4}, 100000)
	rsp, err := c.Store(ctx, StoreRequest{SOPClassUID: ct, SOPInstanceUID: "1.2.3", TransferSyntax: ExplicitVRLittle,
		Data: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil || rsp.Status != StatusSuccess {
		t.Fatalf("store: %v %v", rsp, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.got["1.2.3"], data) {
		t.Fatalf("stored %d bytes, want %d", len(st.got["1.2.3"]), len(data))
	}
}

func TestWrongCalledAERejected(t *testing.T) {
	addr := startServer(t, ServerOptions{AETitle: "SCP"})
	req := ul.Request{CalledAE: "OTHER", Contexts: []ul.PresentationContext{{AbstractSyntax: Verification, TransferSyntaxes: []string{ImplicitVRLittle}}}}
	_, err := Dial(context.Background(), addr, req, nil)
	var rj ul.AssociateRJ
	if !errors.As(err, &rj) || rj.Reason != ul.RejectCalledAE {
		t.Fatalf("dial: %v, want called AE rejection", err)
	}
}
