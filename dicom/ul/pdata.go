package ul

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// nextPDV moves the reader to the header of the next PDV, reading a new
// P-DATA-TF PDU when the current one is used up. Other PDUs end the read
// through the state machine (release, abort, or an unexpected PDU).
func (a *Assoc) nextPDV() error {
	for a.pduLeft == 0 {
		if st := a.State(); st != Sta6 {
			return fmt.Errorf("read message in state %s: %w", st, ErrClosed)
		}
		if d := a.opts.NetworkTimeout; d > 0 {
			_ = a.conn.SetReadDeadline(time.Now().Add(d))
		}
		h, err := readHeader(a.br, a.hdr[:])
		if err != nil {
			return a.fail(fmt.Errorf("read PDU: %w", err))
		}
		if h.Type != TypePData {
			return a.onPDU(h)
		}
		if h.Length > a.opts.MaxPDULength || h.Length < pdvHeaderLength {
			return a.fail(malformed("P-DATA-TF length %d outside %d..%d", h.Length, pdvHeaderLength, a.opts.MaxPDULength))
		}
		a.pduLeft = h.Length
	}
	if a.pduLeft < pdvHeaderLength {
		return a.fail(malformed("%d bytes left in P-DATA-TF, too few for a PDV", a.pduLeft))
	}
	var b [pdvHeaderLength]byte
	if _, err := io.ReadFull(a.br, b[:]); err != nil {
		return a.fail(fmt.Errorf("read PDV: %w", err))
	}
	n := binary.BigEndian.Uint32(b[:4])
	if n < 2 || n-2 > a.pduLeft-pdvHeaderLength {
		return a.fail(malformed("PDV length %d does not fit the %d bytes left in its PDU", n, a.pduLeft))
	}
	a.pduLeft -= pdvHeaderLength + (n - 2)
	a.pdvLeft = n - 2
	a.pdv = PDV{ContextID: b[4], Command: b[5]&1 != 0, Last: b[5]&2 != 0}
	if _, ok := a.Context(a.pdv.ContextID); !ok {
		return a.fail(malformed("PDV on presentation context %d, which is not accepted", a.pdv.ContextID))
	}
	return nil
}

// ReadCommand reads the next message's command set (always complete in
// memory; it is small) and returns it with its presentation context ID. A
// data set of the previous message that was not read to its end is
// discarded first. After the peer releases, it returns ErrReleased; after
// an abort, the Abort.
func (a *Assoc) ReadCommand() (byte, []byte, error) {
	if err := a.drainData(); err != nil {
		return 0, nil, err
	}
	var cmd []byte
	var pcID byte
	for first := true; ; first = false {
		if err := a.nextPDV(); err != nil {
			return 0, nil, err
		}
		switch {
		case !a.pdv.Command:
			return 0, nil, a.fail(malformed("data set PDV where a command was expected"))
		case first:
			pcID = a.pdv.ContextID
		case a.pdv.ContextID != pcID:
			return 0, nil, a.fail(malformed("command fragments on contexts %d and %d", pcID, a.pdv.ContextID))
		}
		if len(cmd)+int(a.pdvLeft) > MaxCommandLength {
			return 0, nil, a.fail(malformed("command set longer than %d bytes", MaxCommandLength))
		}
		start := len(cmd)
		cmd = append(cmd, make([]byte, a.pdvLeft)...)
		if _, err := io.ReadFull(a.br, cmd[start:]); err != nil {
			return 0, nil, a.fail(fmt.Errorf("read command: %w", err))
		}
		a.pdvLeft = 0
		if a.pdv.Last {
			return pcID, cmd, nil
		}
	}
}

// DataReader returns a reader of the data set that follows the command
// just read on context pcID. It streams the PDV payloads straight from the
// connection and returns io.EOF after the last fragment.
func (a *Assoc) DataReader(pcID byte) io.Reader {
	a.inData = true
	a.pdv = PDV{ContextID: pcID, Last: false}
	a.pdvLeft = 0
	return &dataReader{a: a, pcID: pcID}
}

type dataReader struct {
	a    *Assoc
	pcID byte
	err  error
}

func (r *dataReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	a := r.a
	for a.pdvLeft == 0 {
		if a.pdv.Last && a.pdv.ContextID == r.pcID && !a.pdv.Command {
			a.inData = false
			r.err = io.EOF
			return 0, io.EOF
		}
		if err := a.nextPDV(); err != nil {
			r.err = err
			return 0, err
		}
		if a.pdv.Command || a.pdv.ContextID != r.pcID {
			r.err = a.fail(malformed("PDV (command %t, context %d) inside a data set on context %d",
				a.pdv.Command, a.pdv.ContextID, r.pcID))
			return 0, r.err
		}
	}
	if len(p) > int(a.pdvLeft) {
		p = p[:a.pdvLeft]
	}
	n, err := a.br.Read(p)
	a.pdvLeft -= uint32(n)
	if err != nil {
		r.err = a.fail(fmt.Errorf("read data set: %w", err))
		return n, r.err
	}
	return n, nil
}

func (a *Assoc) drainData() error {
	if !a.inData {
		return nil
	}
	_, err := io.Copy(io.Discard, &dataReader{a: a, pcID: a.pdv.ContextID})
	return err
}

// WriteMessage sends a command set and, when data is not nil, the n bytes
// of its data set (all of data up to io.EOF when n is negative),
// fragmented into PDUs no longer than the peer accepts. Each PDU is
// written with a single write.
func (a *Assoc) WriteMessage(pcID byte, cmd []byte, data io.Reader, n int64) error {
	if st := a.State(); st != Sta6 {
		return fmt.Errorf("write message in state %s: %w", st, ErrClosed)
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if err := a.writeFragments(pcID, true, bytes.NewReader(cmd), int64(len(cmd))); err != nil {
		return err
	}
	if data == nil {
		return nil
	}
	if n < 0 {
		return a.writeStream(pcID, data)
	}
	return a.writeFragments(pcID, false, data, n)
}

// sendBuffer returns the PDU buffer and the payload that fits a PDU.
func (a *Assoc) sendBuffer() ([]byte, int) {
	chunk := a.sendMax - pduHeaderLength - pdvHeaderLength
	if cap(a.wbuf) < chunk+pduHeaderLength+pdvHeaderLength {
		a.wbuf = make([]byte, 0, chunk+pduHeaderLength+pdvHeaderLength)
	}
	return a.wbuf, chunk
}

// writeFragments sends n bytes from r as PDVs, one PDV per PDU. The payload
// of each is the peer's limit less 12 bytes of PDU and PDV headers, so
// peers that count the headers in the limit are served too.
func (a *Assoc) writeFragments(pcID byte, command bool, r io.Reader, n int64) error {
	wbuf, chunk := a.sendBuffer()
	for first := true; first || n > 0; first = false {
		k := int64(chunk)
		if n < k {
			k = n
		}
		b := appendHeader(wbuf[:0], TypePData, pdvHeaderLength+int(k))
		b = appendPDVHeader(b, pcID, command, n == k, int(k))
		start := len(b)
		b = b[:start+int(k)]
		if _, err := io.ReadFull(r, b[start:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read data set to send: %w", err)
		}
		if err := a.writeLocked(b); err != nil {
			a.closeConn()
			return err
		}
		n -= k
	}
	return nil
}

// writeStream sends a data set of unknown length as data PDVs: each PDU is
// filled from r, and one byte read ahead tells whether it is the last.
func (a *Assoc) writeStream(pcID byte, r io.Reader) error {
	wbuf, chunk := a.sendBuffer()
	const hdr = pduHeaderLength + pdvHeaderLength
	b := wbuf[:hdr+chunk]
	var ahead [1]byte
	have := 0 // bytes read ahead, at b[hdr]
	for {
		k, err := io.ReadFull(r, b[hdr+have:])
		k += have
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			return fmt.Errorf("read data set to send: %w", err)
		}
		if !last {
			switch _, err := io.ReadFull(r, ahead[:]); {
			case errors.Is(err, io.EOF):
				last = true
			case err != nil:
				return fmt.Errorf("read data set to send: %w", err)
			}
		}
		h := appendHeader(b[:0], TypePData, pdvHeaderLength+k)
		appendPDVHeader(h, pcID, false, last, k)
		if err := a.writeLocked(b[:hdr+k]); err != nil {
			a.closeConn()
			return err
		}
		if last {
			return nil
		}
		b[hdr], have = ahead[0], 1
	}
}
