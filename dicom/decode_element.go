package dicom

import (
	"errors"
	"fmt"
	"io"
)

// header is a decoded element header.
type header struct {
	tag    Tag
	vr     VR
	length uint32
	off    int64
}

// readHeader reads a tag, VR (explicit syntaxes) and length. When eofOK is
// set, an input that ends exactly before the header returns io.EOF.
func (d *Decoder) readHeader(syn syntax, eofOK bool) (header, error) {
	h := header{off: d.off}
	b := d.scratch[:4]
	if eofOK {
		if _, err := d.r.Peek(1); err == io.EOF {
			return h, io.EOF
		}
	}
	if err := d.readFull(b); err != nil {
		return h, d.fail(h.off, Tag{}, fmt.Errorf("read tag: %w", err))
	}
	bo := syn.order()
	h.tag = Tag{bo.Uint16(b), bo.Uint16(b[2:])}
	if syn.implicit || h.tag.Group == 0xFFFE {
		if err := d.readFull(b); err != nil {
			return h, d.fail(h.off, h.tag, fmt.Errorf("read length: %w", err))
		}
		h.length = bo.Uint32(b)
		if h.tag.Group != 0xFFFE {
			h.vr = dictVR(h.tag)
		}
		return h, nil
	}
	return h, d.readExplicitVR(&h, syn)
}

// readExplicitVR reads the VR and length of an explicit VR element. Two
// bytes that are not a VR code mean the writer switched to implicit VR for
// this element (a known quirk): they are the start of a 4-byte length.
func (d *Decoder) readExplicitVR(h *header, syn syntax) error {
	b := d.scratch[:4]
	if err := d.readFull(b[:2]); err != nil {
		return d.fail(h.off, h.tag, fmt.Errorf("read VR: %w", err))
	}
	bo := syn.order()
	if !isVRCode(b[0], b[1]) {
		if err := d.readFull(b[2:4]); err != nil {
			return d.fail(h.off, h.tag, fmt.Errorf("read length: %w", err))
		}
		h.vr, h.length = dictVR(h.tag), bo.Uint32(b)
		return nil
	}
	h.vr = VR(b[:2])
	if !h.vr.LongLength() {
		if err := d.readFull(b[:2]); err != nil {
			return d.fail(h.off, h.tag, fmt.Errorf("read length: %w", err))
		}
		h.length = uint32(bo.Uint16(b))
		return nil
	}
	if err := d.readFull(b[:2]); err != nil { // reserved
		return d.fail(h.off, h.tag, fmt.Errorf("read reserved bytes: %w", err))
	}
	if err := d.readFull(b); err != nil {
		return d.fail(h.off, h.tag, fmt.Errorf("read length: %w", err))
	}
	h.length = bo.Uint32(b)
	return nil
}

// readElement reads the value of the element whose header is h.
func (d *Decoder) readElement(h header, syn syntax, depth int) (*Element, error) {
	e := &Element{Tag: h.tag, VR: h.vr, Length: h.length, Offset: h.off}
	if h.length == UndefinedLength {
		if h.tag == PixelDataTag || (h.vr == OB || h.vr == OW) && !syn.implicit {
			return e, d.readFragments(e, syn)
		}
		inner := syn
		if h.vr == UN && !syn.implicit {
			inner = implicitLE // PS3.5 6.2.2: undefined-length UN is implicit VR LE
		}
		return e, d.readItems(e, inner, depth, -1)
	}
	if h.vr == SQ {
		return e, d.readItems(e, syn, depth, d.off+int64(h.length))
	}
	return e, d.readValue(e, syn)
}

// readItems reads the items of a sequence, up to end (or a sequence
// delimiter when end is -1).
func (d *Decoder) readItems(e *Element, syn syntax, depth int, end int64) error {
	if depth >= maxDepth {
		return d.fail(e.Offset, e.Tag, fmt.Errorf("sequences nested deeper than %d: %w", maxDepth, ErrTooLarge))
	}
	e.Items = []*DataSet{}
	for {
		if done, err := d.atEnd(e, end); done || err != nil {
			return err
		}
		h, err := d.readHeader(syn, false)
		if err != nil {
			return err
		}
		switch {
		case h.tag == SequenceDelimitationTag && end < 0:
			return nil
		case h.tag == ItemTag:
			if end >= 0 && h.length != UndefinedLength && d.off+int64(h.length) > end {
				return d.fail(h.off, h.tag, fmt.Errorf("item of %d bytes overruns sequence %s: %w", h.length, e.Tag, ErrMalformed))
			}
			item, err := d.readItem(h, syn, depth+1)
			if err != nil {
				return err
			}
			e.Items = append(e.Items, item)
		default:
			return d.fail(h.off, h.tag, fmt.Errorf("unexpected element in sequence %s: %w", e.Tag, ErrMalformed))
		}
	}
}

// atEnd reports whether a defined-length structure starting at e has been
// fully read, and fails when its contents overran its length.
func (d *Decoder) atEnd(e *Element, end int64) (bool, error) {
	if end < 0 || d.off < end {
		return false, nil
	}
	if d.off > end {
		return true, d.fail(e.Offset, e.Tag, fmt.Errorf("contents overrun length %d by %d bytes: %w", e.Length, d.off-end, ErrMalformed))
	}
	return true, nil
}

// readItem reads the elements of one item.
func (d *Decoder) readItem(h header, syn syntax, depth int) (*DataSet, error) {
	item := &DataSet{}
	self := &Element{Tag: h.tag, Length: h.length, Offset: h.off}
	end := int64(-1)
	if h.length != UndefinedLength {
		end = d.off + int64(h.length)
	}
	for {
		if done, err := d.atEnd(self, end); done || err != nil {
			return item, err
		}
		eh, err := d.readHeader(syn, false)
		if err != nil {
			return item, err
		}
		if eh.tag == ItemDelimitationTag && end < 0 {
			return item, nil
		}
		if eh.tag.Group == 0xFFFE {
			return item, d.fail(eh.off, eh.tag, fmt.Errorf("unexpected delimiter in item: %w", ErrMalformed))
		}
		e, err := d.readElement(eh, syn, depth)
		if err != nil {
			return item, err
		}
		item.Elements = append(item.Elements, e)
	}
}

// readFragments reads encapsulated pixel data: items up to a sequence
// delimiter.
func (d *Decoder) readFragments(e *Element, syn syntax) error {
	e.Fragments = []*Element{}
	for {
		h, err := d.readHeader(syn, false)
		if err != nil {
			return err
		}
		switch h.tag {
		case SequenceDelimitationTag:
			return nil
		case ItemTag:
			f := &Element{Tag: h.tag, Length: h.length, Offset: h.off}
			if h.length == UndefinedLength {
				return d.fail(h.off, h.tag, fmt.Errorf("fragment with undefined length: %w", ErrMalformed))
			}
			if err := d.readValue(f, syn); err != nil {
				return err
			}
			e.Fragments = append(e.Fragments, f)
		default:
			return d.fail(h.off, h.tag, fmt.Errorf("unexpected element in pixel data fragments: %w", ErrMalformed))
		}
	}
}

// readValue reads (or skips) e.Length bytes of value.
func (d *Decoder) readValue(e *Element, syn syntax) error {
	n := e.Length
	if d.discard || (d.opts.SkipOver > 0 && n > d.opts.SkipOver) {
		e.Skipped = true
		if err := d.skip(int64(n)); err != nil {
			return d.fail(e.Offset, e.Tag, fmt.Errorf("skip value: %w", err))
		}
		return nil
	}
	if n > d.opts.MaxValueLength {
		return d.fail(e.Offset, e.Tag, fmt.Errorf("value length %d over limit %d: %w", n, d.opts.MaxValueLength, ErrTooLarge))
	}
	v, err := d.readChunked(int(n))
	if err != nil {
		return d.fail(e.Offset, e.Tag, fmt.Errorf("read value of %d bytes: %w", n, err))
	}
	if syn.big {
		swapToLittle(v, vrTable[e.VR].unit)
	}
	e.Value = v
	return nil
}

// readChunked reads n bytes, allocating at most allocChunk ahead of the
// bytes that have actually arrived.
func (d *Decoder) readChunked(n int) ([]byte, error) {
	if n <= allocChunk {
		v := make([]byte, n)
		return v, d.readFull(v)
	}
	v := make([]byte, 0, allocChunk)
	for len(v) < n {
		k := min(n-len(v), max(cap(v)-len(v), len(v)))
		v = append(v, make([]byte, k)...)
		if err := d.readFull(v[len(v)-k:]); err != nil {
			if errors.Is(err, ErrTruncated) {
				return nil, fmt.Errorf("value of %d bytes: %w", n, ErrTruncated)
			}
			return nil, err
		}
	}
	return v, nil
}

// swapToLittle reverses each unit-byte number in place.
func swapToLittle(v []byte, unit int) {
	if unit < 2 {
		return
	}
	for i := 0; i+unit <= len(v); i += unit {
		for a, b := i, i+unit-1; a < b; a, b = a+1, b-1 {
			v[a], v[b] = v[b], v[a]
		}
	}
}
