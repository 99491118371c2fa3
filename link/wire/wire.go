// Package wire reads and writes link frames on a byte stream (a TCP
// connection or a QUIC stream): a 4-byte big-endian length, then an encoded
// medrelay.v1.Frame.
//
// The length is checked against the limit before anything is allocated for
// the frame, so a peer cannot make a relay allocate more than the limit.
// The package knows nothing of what frames mean; see package link.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

const (
	// HeaderSize is the size of the length prefix.
	HeaderSize = 4
	// DefaultMaxFrame bounds a frame when the caller sets no limit.
	DefaultMaxFrame = 4 << 20
	// MinMaxFrame is the smallest limit a caller may set.
	MinMaxFrame = 64 << 10
)

// ErrFrameTooLarge is returned when a frame's announced length passes the
// limit. The stream is unusable afterwards and must be closed.
var ErrFrameTooLarge = errors.New("frame too large")

// ErrEmptyFrame is returned for a frame of length zero or one that sets no
// message.
var ErrEmptyFrame = errors.New("empty frame")

// Reader reads frames from a stream.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewReader returns a Reader that refuses frames longer than max bytes
// (DefaultMaxFrame when max is 0).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// SetMax changes the limit for the frames read next (DefaultMaxFrame when
// max is 0): a small one for a peer not yet admitted.
func (r *Reader) SetMax(max int) {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	r.max = max
}

// Read reads and decodes the next frame.
func (r *Reader) Read() (*pb.Frame, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return nil, ErrEmptyFrame
	}
	if uint64(n) > uint64(r.max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, r.max)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	buf := r.buf[:n]
	if _, err := io.ReadFull(r.r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame body: %w", err)
	}
	return Decode(buf)
}

// Decode decodes one frame body (without its length prefix). The returned
// frame does not alias buf.
func Decode(buf []byte) (*pb.Frame, error) {
	f := new(pb.Frame)
	if err := proto.Unmarshal(buf, f); err != nil {
		return nil, fmt.Errorf("decode frame: %w", err)
	}
	if f.Msg == nil {
		return nil, ErrEmptyFrame
	}
	return f, nil
}

// Writer writes frames to a buffered stream. Call Flush to send.
type Writer struct {
	w   *bufio.Writer
	max int
	buf []byte
}

// NewWriter returns a Writer that refuses to write frames longer than max
// (DefaultMaxFrame when max is 0).
func NewWriter(w io.Writer, max int) *Writer {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), max: max}
}

// Write encodes f into the buffer. It does not flush.
func (w *Writer) Write(f *pb.Frame) error {
	var err error
	w.buf, err = proto.MarshalOptions{}.MarshalAppend(append(w.buf[:0], 0, 0, 0, 0), f)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	n := len(w.buf) - HeaderSize
	if n > w.max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, w.max)
	}
	binary.BigEndian.PutUint32(w.buf, uint32(n))
	_, err = w.w.Write(w.buf)
	return err
}

// Flush sends what Write buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// Buffered reports how many bytes wait for Flush.
func (w *Writer) Buffered() int { return w.w.Buffered() }
