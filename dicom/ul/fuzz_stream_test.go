package ul

import (
	"bytes"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// memConn is a net.Conn reading a fixed input and discarding writes.
type memConn struct{ r *bytes.Reader }

func (c *memConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// established returns an acceptor in Sta6 reading input, with contexts 1
// (explicit LE) and 3 (implicit LE) accepted.
func established(input []byte) *Assoc {
	opts := (*Options)(nil).withDefaults()
	a := newAssoc(&memConn{bytes.NewReader(input)}, opts, false)
	a.ac = &AssociateAC{Contexts: []PresentationContext{
		{ID: 1, AbstractSyntax: ctImage, Result: Acceptance, TransferSyntaxes: []string{explicitLE}},
		{ID: 3, AbstractSyntax: verification, Result: Acceptance, TransferSyntaxes: []string{implicitLE}},
	}}
	a.setState(Sta6)
	return a
}

// messageStream fragments a command and a data set into P-DATA-TF PDUs of
// at most max bytes, as a peer would send them.
func messageStream(pcID byte, cmd, data []byte, max int) []byte {
	var out []byte
	frag := func(b []byte, command bool) {
		chunk := max - pduHeaderLength - pdvHeaderLength
		for first := true; first || len(b) > 0; first = false {
			k := min(chunk, len(b))
			out = appendHeader(out, TypePData, pdvHeaderLength+k)
			out = appendPDVHeader(out, pcID, command, k == len(b), k)
			out = append(out, b[:k]...)
			b = b[k:]
		}
	}
	frag(cmd, true)
	if data != nil {
		frag(data, false)
	}
	return out
}

// FuzzReadMessages feeds a byte stream to an established association and
// reads it as the C-STORE SCP does (ReadCommand, then the data set through
// DataReader) until an error: it must never panic or hang. Seeds are real
// messages: dcmtk's storescu C-STORE request and echo response captured on
// the wire (testdata), fragmented at 4096 and 16384 bytes, and a release.
func FuzzReadMessages(f *testing.F) {
	store, err := os.ReadFile("../dimse/testdata/commands/dcmtk-storescu-store-rq.bin")
	if err != nil {
		f.Fatal(err)
	}
	echoRSP, err := os.ReadFile("testdata/pdus/dcmtk-storescp-echo-rsp.bin")
	if err != nil {
		f.Fatal(err)
	}
	data := bytes.Repeat([]byte{0x08, 0x00, 0x18, 0x00, 'U', 'I', 4, 0, '1', '.', '2', 0}, 1000)
	for _, max := range []int{4096, 16384} {
		s := messageStream(1, store, data, max)
		f.Add(append(s, appendRelease(nil, TypeReleaseRQ)...))
	}
	a := established(messageStream(1, store, data, 4096))
	if pcID, cmd, err := a.ReadCommand(); err != nil || pcID != 1 || !bytes.Equal(cmd, store) {
		f.Fatalf("seed command: context %d, %v", pcID, err)
	}
	if got, err := io.ReadAll(a.DataReader(1)); err != nil || !bytes.Equal(got, data) {
		f.Fatalf("seed data set: %d bytes, %v", len(got), err)
	}
	f.Add(append(append([]byte{}, echoRSP...), messageStream(1, store, data[:100], 4096)...))
	f.Add(messageStream(3, store, nil, 4096))
	f.Fuzz(func(t *testing.T, b []byte) {
		a := established(b)
		for i := 0; i < 16; i++ {
			pcID, _, err := a.ReadCommand()
			if err != nil {
				return
			}
			n, err := io.Copy(io.Discard, a.DataReader(pcID))
			if n > int64(len(b)) {
				t.Fatalf("read %d data bytes from %d bytes of input", n, len(b))
			}
			if err != nil {
				return
			}
		}
	})
}
