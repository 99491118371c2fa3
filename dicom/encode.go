package dicom

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
)

// EncodeDataSet writes ds to w in the given transfer syntax: Implicit VR
// Little Endian, Explicit VR Little Endian (also used by every encapsulated
// syntax) or Deflated Explicit VR Little Endian. Big endian is read-only.
//
// Sequences and items are written with undefined lengths, odd values are
// padded (UI with NUL, text with a space, binary with zero), group length
// elements (gggg,0000) are dropped, and text is written as stored.
func EncodeDataSet(w io.Writer, ds *DataSet, transferSyntaxUID string) error {
	ts := syntaxOf(transferSyntaxUID)
	if ts.BigEndian {
		return fmt.Errorf("encode data set: %s: %w", ts.Name, ErrUnsupportedSyntax)
	}
	var fw *flate.Writer
	if ts.Deflated {
		fw, _ = flate.NewWriter(w, flate.DefaultCompression) // level is valid
		w = fw
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := encoder{w: bw, implicit: ts.Implicit}
	if err := enc.dataSet(ds); err != nil {
		return fmt.Errorf("encode data set: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode data set: %w", err)
	}
	if fw != nil {
		if err := fw.Close(); err != nil {
			return fmt.Errorf("encode data set: deflate: %w", err)
		}
	}
	return nil
}

// Encode returns ds encoded in the given transfer syntax.
func Encode(ds *DataSet, transferSyntaxUID string) ([]byte, error) {
	var buf bytes.Buffer
	err := EncodeDataSet(&buf, ds, transferSyntaxUID)
	return buf.Bytes(), err
}

// EncodeCommand encodes a DIMSE command set: Implicit VR Little Endian
// with (0000,0000) CommandGroupLength computed and put first (PS3.7 6.3.1).
// Any group length already in ds is ignored.
func EncodeCommand(ds *DataSet) ([]byte, error) {
	body, err := Encode(ds, ImplicitVRLittleEndian)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	out := make([]byte, 0, 12+len(body))
	out = binary.LittleEndian.AppendUint16(out, 0x0000)
	out = binary.LittleEndian.AppendUint16(out, 0x0000)
	out = binary.LittleEndian.AppendUint32(out, 4)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...), nil
}

// DecodeCommand parses an Implicit VR Little Endian command set (or any
// implicit VR LE data set held in memory, such as a C-FIND identifier).
func DecodeCommand(b []byte) (*DataSet, error) {
	return DecodeDataSet(b, ImplicitVRLittleEndian)
}

// DecodeDataSet parses a data set held in memory.
func DecodeDataSet(b []byte, transferSyntaxUID string) (*DataSet, error) {
	size := min(max(len(b), 16), readBufferSize)
	return newDecoderSize(bytes.NewReader(b), syntaxOf(transferSyntaxUID), nil, 0, size).ReadDataSet()
}

type encoder struct {
	w        *bufio.Writer
	implicit bool
	buf      [12]byte
}

func (enc *encoder) dataSet(ds *DataSet) error {
	for _, e := range ds.Elements {
		if e.Tag.IsGroupLength() {
			continue
		}
		if err := enc.element(e); err != nil {
			return err
		}
	}
	return nil
}

func (enc *encoder) element(e *Element) error {
	switch {
	case e.Skipped:
		return fmt.Errorf("element %s: value was skipped on read: %w", e.Tag, ErrMissing)
	case e.Fragments != nil:
		return enc.fragments(e)
	case e.Items != nil || e.VR == SQ:
		return enc.sequence(e)
	}
	vr := e.VR
	if vr == "" {
		vr = dictVR(e.Tag)
	}
	n := len(e.Value) + len(e.Value)%2
	if n > 0xFFFFFFFE {
		return fmt.Errorf("element %s: value of %d bytes: %w", e.Tag, n, ErrTooLarge)
	}
	if !enc.implicit && !vr.LongLength() && n > 0xFFFF {
		vr = UN // too long for a 2-byte length: dcmtk does the same
	}
	if err := enc.header(e.Tag, vr, uint32(n)); err != nil {
		return err
	}
	enc.w.Write(e.Value)
	if len(e.Value)%2 == 1 {
		enc.w.WriteByte(vr.padByte())
	}
	return nil
}

// header writes a tag, VR (explicit) and length.
func (enc *encoder) header(t Tag, vr VR, length uint32) error {
	b := binary.LittleEndian.AppendUint16(enc.buf[:0], t.Group)
	b = binary.LittleEndian.AppendUint16(b, t.Element)
	switch {
	case enc.implicit || t.Group == 0xFFFE:
		b = binary.LittleEndian.AppendUint32(b, length)
	case len(vr) != 2:
		return fmt.Errorf("element %s: VR %q is not two characters: %w", t, vr, ErrMalformed)
	case vr.LongLength():
		b = append(b, vr[0], vr[1], 0, 0)
		b = binary.LittleEndian.AppendUint32(b, length)
	default:
		b = append(b, vr[0], vr[1])
		b = binary.LittleEndian.AppendUint16(b, uint16(length))
	}
	_, err := enc.w.Write(b)
	return err
}

// sequence writes items with undefined lengths. An undefined-length UN
// keeps its VR and its items are written in implicit VR, as they were read.
func (enc *encoder) sequence(e *Element) error {
	vr := SQ
	if e.VR == UN {
		vr = UN
	}
	if err := enc.header(e.Tag, vr, UndefinedLength); err != nil {
		return err
	}
	inner := enc
	if vr == UN && !enc.implicit {
		inner = &encoder{w: enc.w, implicit: true}
	}
	for _, item := range e.Items {
		inner.header(ItemTag, "", UndefinedLength)
		if err := inner.dataSet(item); err != nil {
			return err
		}
		inner.header(ItemDelimitationTag, "", 0)
	}
	return inner.header(SequenceDelimitationTag, "", 0)
}

// fragments writes encapsulated pixel data.
func (enc *encoder) fragments(e *Element) error {
	vr := e.VR
	if vr != OW {
		vr = OB
	}
	if err := enc.header(e.Tag, vr, UndefinedLength); err != nil {
		return err
	}
	for _, f := range e.Fragments {
		if f.Skipped {
			return fmt.Errorf("element %s: fragment was skipped on read: %w", e.Tag, ErrMissing)
		}
		n := len(f.Value) + len(f.Value)%2
		enc.header(ItemTag, "", uint32(n))
		enc.w.Write(f.Value)
		if len(f.Value)%2 == 1 {
			enc.w.WriteByte(0)
		}
	}
	return enc.header(SequenceDelimitationTag, "", 0)
}
