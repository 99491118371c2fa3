package dicom

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits on lengths read from input. Every length is checked against them
// before anything is allocated.
const (
	// DefaultMaxValueLength is the largest single value held in memory when
	// ReadOptions.MaxValueLength is zero (1 GiB).
	DefaultMaxValueLength = 1 << 30
	// maxDepth bounds the nesting of sequences.
	maxDepth = 64
	// allocChunk is the largest allocation made before the bytes have
	// arrived: longer values grow as they are read, so a truncated input
	// that declares a huge length cannot make us allocate it.
	allocChunk = 1 << 20
	// maxMetaValueLength bounds each element of the file meta group.
	maxMetaValueLength = 1 << 16
	// maxMetaElements bounds the number of elements in the file meta group.
	maxMetaElements = 256
	// readBufferSize is the read-ahead buffer of a Decoder.
	readBufferSize = 64 << 10
)

// ReadOptions tune a Decoder. The zero value (or nil) reads everything.
type ReadOptions struct {
	// MaxValueLength is the largest value read into memory; a longer one
	// fails with ErrTooLarge. Zero means DefaultMaxValueLength.
	MaxValueLength uint32
	// SkipOver discards values longer than this many bytes without holding
	// them (the element is marked Skipped). Zero means never skip.
	SkipOver uint32
	// StopBefore ends ReadDataSet at the first top-level element whose tag
	// is at or after it; that element is left unread. Zero means no stop.
	StopBefore Tag
	// Tags, when not empty, makes ReadDataSet keep only these top-level
	// elements (others are skipped without holding their values) and stop
	// after the last of them.
	Tags []Tag
	// Offset is the position of the stream's first byte in its file (such
	// as FileMeta.DataSetOffset); it is added to every reported offset.
	// NewDecoder uses it; Read and ReadFile set it themselves.
	Offset int64
}

// syntax is the low-level encoding of a stream or sequence.
type syntax struct {
	implicit bool
	big      bool
}

var implicitLE = syntax{implicit: true}

func (s syntax) order() binary.ByteOrder {
	if s.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// Decoder reads data elements from a data set stream. It reads ahead in a
// buffer; Rest returns the bytes it has not consumed.
type Decoder struct {
	r       *bufio.Reader
	off     int64
	syn     syntax
	opts    ReadOptions
	discard bool // skip every value (element not wanted)
	scratch [8]byte
}

// NewDecoder returns a decoder for a data set encoded in the given transfer
// syntax. A deflated syntax is inflated on the fly (offsets then count
// inflated bytes). Unknown UIDs are read as Explicit VR Little Endian.
func NewDecoder(r io.Reader, transferSyntaxUID string, opts *ReadOptions) *Decoder {
	var base int64
	if opts != nil {
		base = opts.Offset
	}
	return newDecoder(r, syntaxOf(transferSyntaxUID), opts, base)
}

func newDecoder(r io.Reader, ts TransferSyntax, opts *ReadOptions, base int64) *Decoder {
	return newDecoderSize(r, ts, opts, base, readBufferSize)
}

// newDecoderSize is newDecoder with a read-ahead buffer of bufSize bytes.
func newDecoderSize(r io.Reader, ts TransferSyntax, opts *ReadOptions, base int64, bufSize int) *Decoder {
	if ts.Deflated {
		r = flate.NewReader(r)
		bufSize = readBufferSize
	}
	d := &Decoder{
		r:   bufio.NewReaderSize(r, bufSize),
		off: base,
		syn: syntax{implicit: ts.Implicit, big: ts.BigEndian},
	}
	if opts != nil {
		d.opts = *opts
	}
	if d.opts.MaxValueLength == 0 {
		d.opts.MaxValueLength = DefaultMaxValueLength
	}
	return d
}

// Offset returns the offset of the next unconsumed byte.
func (d *Decoder) Offset() int64 { return d.off }

// Rest returns a reader of the bytes the decoder has not consumed, starting
// at Offset, so the remainder (such as pixel data) can be copied without
// being decoded. Reading from it invalidates the decoder.
func (d *Decoder) Rest() io.Reader { return d.r }

// PeekTag returns the tag of the next top-level element without consuming
// it, or io.EOF at the end of the data set.
func (d *Decoder) PeekTag() (Tag, error) {
	b, err := d.r.Peek(4)
	if len(b) == 0 && err == io.EOF {
		return Tag{}, io.EOF
	}
	if len(b) < 4 {
		return Tag{}, d.fail(d.off, Tag{}, fmt.Errorf("%d stray bytes at end: %w", len(b), ErrTruncated))
	}
	bo := d.syn.order()
	return Tag{bo.Uint16(b), bo.Uint16(b[2:])}, nil
}

// Next reads the next top-level element with its whole value (sequences
// and fragments included), or returns io.EOF at the end of the data set.
func (d *Decoder) Next() (*Element, error) {
	h, err := d.readHeader(d.syn, true)
	if err != nil {
		return nil, err
	}
	if h.tag.Group == 0xFFFE {
		return nil, d.fail(h.off, h.tag, fmt.Errorf("item or delimiter outside a sequence: %w", ErrMalformed))
	}
	return d.readElement(h, d.syn, 0)
}

// ReadDataSet reads top-level elements until the end of input or until
// ReadOptions.StopBefore or the last of ReadOptions.Tags is passed.
func (d *Decoder) ReadDataSet() (*DataSet, error) {
	ds := &DataSet{}
	stop, want := d.stopAndWanted()
	for {
		t, err := d.PeekTag()
		if err == io.EOF {
			return ds, nil
		}
		if err != nil {
			return ds, err
		}
		if stop != 0 && t.Uint32() >= stop {
			return ds, nil
		}
		d.discard = want != nil && !want[t]
		e, err := d.Next()
		keep := !d.discard
		d.discard = false
		if err != nil {
			return ds, err
		}
		if keep {
			ds.Elements = append(ds.Elements, e)
		}
	}
}

// stopAndWanted turns the options into a stop tag (0: none) and a set of
// wanted tags (nil: all).
func (d *Decoder) stopAndWanted() (uint32, map[Tag]bool) {
	stop := d.opts.StopBefore.Uint32()
	if len(d.opts.Tags) == 0 {
		return stop, nil
	}
	want := make(map[Tag]bool, len(d.opts.Tags))
	var last uint32
	for _, t := range d.opts.Tags {
		want[t] = true
		last = max(last, t.Uint32())
	}
	if last < 0xFFFFFFFF && (stop == 0 || last+1 < stop) {
		stop = last + 1
	}
	return stop, want
}

// ReadIndex parses a data set stream in the given transfer syntax and
// returns the wanted top-level elements (all of them when tags is empty),
// stopping before the pixel data group (7FE0) without reading it.
func ReadIndex(r io.Reader, transferSyntaxUID string, tags ...Tag) (*DataSet, error) {
	opts := &ReadOptions{StopBefore: Tag{0x7FE0, 0x0000}, Tags: tags}
	return NewDecoder(r, transferSyntaxUID, opts).ReadDataSet()
}

// fail builds a ParseError.
func (d *Decoder) fail(off int64, t Tag, err error) error {
	return &ParseError{Offset: off, Tag: t, Err: err}
}

// readFull reads len(p) bytes, turning a short read into ErrTruncated.
func (d *Decoder) readFull(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.off += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("want %d bytes, got %d: %w", len(p), n, ErrTruncated)
	}
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// skip discards n bytes.
func (d *Decoder) skip(n int64) error {
	for n > 0 {
		k, err := d.r.Discard(int(min(n, 1<<30)))
		d.off += int64(k)
		n -= int64(k)
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%d bytes missing: %w", n, ErrTruncated)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
	}
	return nil
}
