package dicom

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// CanTranscode reports whether Transcode converts between the two syntaxes:
// Implicit VR Little Endian and Explicit VR Little Endian, either way (or a
// syntax to itself).
func CanTranscode(from, to string) bool {
	from, to = TrimUID(from), TrimUID(to)
	le := func(ts string) bool { return ts == ImplicitVRLittleEndian || ts == ExplicitVRLittleEndian }
	return from == to || le(from) && le(to)
}

// Transcode copies a data set from r to w, re-encoding it from one
// uncompressed little endian syntax to the other (see CanTranscode) element
// by element, without holding it in memory: values are copied through
// unchanged (the byte order is the same), only element headers change.
//
// From implicit VR, the VR comes from the dictionary; attributes it does not
// know become UN (PS3.5 6.2.2), as do values too long for a 2-byte length.
// Sequences are read whole and written with undefined lengths; group
// length elements (gggg,0000), which the new headers would falsify, are
// dropped. Encapsulated (compressed) pixel data is not converted.
func Transcode(w io.Writer, r io.Reader, from, to string) error {
	if !CanTranscode(from, to) {
		return fmt.Errorf("transcode %s to %s: %w", from, to, ErrUnsupportedSyntax)
	}
	if TrimUID(from) == TrimUID(to) {
		_, err := io.Copy(w, r)
		return err
	}
	d := newDecoder(r, syntaxOf(from), nil, 0)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := encoder{w: bw, implicit: syntaxOf(to).Implicit}
	for {
		done, err := transcodeElement(d, &enc)
		if err != nil {
			return fmt.Errorf("transcode: %w", err)
		}
		if done {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	return nil
}

// transcodeElement re-encodes the next top-level element; done is true at
// the end of the data set.
func transcodeElement(d *Decoder, enc *encoder) (done bool, err error) {
	h, err := d.readHeader(d.syn, true)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if h.tag.Group == 0xFFFE {
		return false, d.fail(h.off, h.tag, fmt.Errorf("item or delimiter outside a sequence: %w", ErrMalformed))
	}
	if h.length == UndefinedLength || h.vr == SQ {
		if h.tag == PixelDataTag || (h.vr == OB || h.vr == OW) && !d.syn.implicit {
			return false, d.fail(h.off, h.tag, fmt.Errorf("encapsulated pixel data in an uncompressed syntax: %w", ErrMalformed))
		}
		e, err := d.readElement(h, d.syn, 0)
		if err != nil {
			return false, err
		}
		return false, enc.element(e)
	}
	if h.tag.IsGroupLength() {
		return false, d.skip(int64(h.length))
	}
	vr := h.vr
	if d.syn.implicit && h.tag == PixelDataTag {
		vr = OW // PS3.5 A.1: native pixel data read as implicit VR is OW
	}
	if !enc.implicit && !vr.LongLength() && h.length > 0xFFFF {
		vr = UN
	}
	if err := enc.header(h.tag, vr, h.length); err != nil {
		return false, err
	}
	n, err := io.CopyN(enc.w, d.r, int64(h.length))
	d.off += n
	if errors.Is(err, io.EOF) {
		return false, d.fail(h.off, h.tag, fmt.Errorf("value of %d bytes, %d read: %w", h.length, n, ErrTruncated))
	}
	return false, err
}
