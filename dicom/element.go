package dicom

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// UndefinedLength is the length value (FFFFFFFF) that marks a sequence,
// item or encapsulated pixel data ended by a delimiter.
const UndefinedLength = 0xFFFFFFFF

// Element is one data element. Exactly one of Value, Items and Fragments is
// used: Items for sequences (SQ, and undefined-length UN read as an
// implicit VR sequence), Fragments for encapsulated pixel data, Value for
// everything else.
type Element struct {
	Tag Tag
	VR  VR
	// Length is the value length as read (UndefinedLength for delimited
	// values). Encoders compute lengths themselves and ignore it.
	Length uint32
	// Value holds the raw value bytes. Binary numbers are little endian
	// (big-endian input is swapped on read); text is kept as received,
	// padding included.
	Value []byte
	// Items holds the items of a sequence.
	Items []*DataSet
	// Fragments holds encapsulated pixel data: the basic offset table first,
	// then one entry per fragment. Each is an element with the Item tag.
	Fragments []*Element
	// Skipped is set when the value was longer than ReadOptions.SkipOver and
	// was discarded unread: Value is nil and Length gives its size.
	Skipped bool
	// Offset is the byte offset of the element's tag in the input.
	Offset int64
}

// IsSequence reports whether e holds items.
func (e *Element) IsSequence() bool { return e.VR == SQ || e.Items != nil }

// IsEncapsulated reports whether e holds pixel data fragments.
func (e *Element) IsEncapsulated() bool { return e.Fragments != nil }

// String returns the value as text with trailing padding (spaces, NULs)
// and leading spaces removed. Multiple values stay joined by backslashes.
func (e *Element) String() string {
	if e == nil {
		return ""
	}
	return strings.Trim(string(e.Value), " \x00")
}

// Strings splits a text value at backslashes and trims each value.
func (e *Element) Strings() []string {
	if e == nil || len(e.Value) == 0 {
		return nil
	}
	parts := strings.Split(string(e.Value), `\`)
	for i, p := range parts {
		parts[i] = strings.Trim(p, " \x00")
	}
	return parts
}

// Int returns the first value as an integer, for binary (US, SS, UL, SL)
// and integer string (IS) VRs.
func (e *Element) Int() (int64, error) {
	if e == nil {
		return 0, ErrMissing
	}
	switch e.VR {
	case US:
		return firstUint(e, 2, func(b []byte) int64 { return int64(binary.LittleEndian.Uint16(b)) })
	case SS:
		return firstUint(e, 2, func(b []byte) int64 { return int64(int16(binary.LittleEndian.Uint16(b))) })
	case UL:
		return firstUint(e, 4, func(b []byte) int64 { return int64(binary.LittleEndian.Uint32(b)) })
	case SL:
		return firstUint(e, 4, func(b []byte) int64 { return int64(int32(binary.LittleEndian.Uint32(b))) })
	}
	s := e.Strings()
	if len(s) == 0 {
		return 0, fmt.Errorf("element %s: %w", e.Tag, ErrMissing)
	}
	n, err := strconv.ParseInt(s[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("element %s: %w", e.Tag, err)
	}
	return n, nil
}

func firstUint(e *Element, size int, conv func([]byte) int64) (int64, error) {
	if len(e.Value) < size {
		return 0, fmt.Errorf("element %s: %d-byte value: %w", e.Tag, len(e.Value), ErrMalformed)
	}
	return conv(e.Value[:size]), nil
}

// NewString makes a text element (for UIDs, names, codes...). Multiple
// values are joined with backslashes. The VR comes from the dictionary when
// vr is "".
func NewString(t Tag, vr VR, values ...string) *Element {
	if vr == "" {
		vr = dictVR(t)
	}
	v := []byte(strings.Join(values, `\`))
	return &Element{Tag: t, VR: vr, Value: v, Length: uint32(len(v))}
}

// NewUint16 makes a US element.
func NewUint16(t Tag, values ...uint16) *Element {
	v := make([]byte, 0, 2*len(values))
	for _, x := range values {
		v = binary.LittleEndian.AppendUint16(v, x)
	}
	return &Element{Tag: t, VR: US, Value: v, Length: uint32(len(v))}
}

// NewUint32 makes a UL element.
func NewUint32(t Tag, values ...uint32) *Element {
	v := make([]byte, 0, 4*len(values))
	for _, x := range values {
		v = binary.LittleEndian.AppendUint32(v, x)
	}
	return &Element{Tag: t, VR: UL, Value: v, Length: uint32(len(v))}
}

// NewTagValue makes an AT element holding tags.
func NewTagValue(t Tag, values ...Tag) *Element {
	v := make([]byte, 0, 4*len(values))
	for _, x := range values {
		v = binary.LittleEndian.AppendUint16(v, x.Group)
		v = binary.LittleEndian.AppendUint16(v, x.Element)
	}
	return &Element{Tag: t, VR: AT, Value: v, Length: uint32(len(v))}
}

// NewBytes makes an element with a raw value (OB, OW, UN...).
func NewBytes(t Tag, vr VR, value []byte) *Element {
	return &Element{Tag: t, VR: vr, Value: value, Length: uint32(len(value))}
}

// NewSequence makes an SQ element with the given items.
func NewSequence(t Tag, items ...*DataSet) *Element {
	if items == nil {
		items = []*DataSet{}
	}
	return &Element{Tag: t, VR: SQ, Items: items, Length: UndefinedLength}
}

// NewFragments makes encapsulated pixel data: an offset table (may be
// empty) and fragments, each of even length.
func NewFragments(t Tag, offsetTable []byte, fragments ...[]byte) *Element {
	e := &Element{Tag: t, VR: OB, Length: UndefinedLength}
	for _, f := range append([][]byte{offsetTable}, fragments...) {
		e.Fragments = append(e.Fragments, NewBytes(ItemTag, "", f))
	}
	return e
}

// DataSet is an ordered list of elements. Elements read from input are in
// the order they were read; Set keeps them sorted by tag.
type DataSet struct {
	Elements []*Element
}

// NewDataSet returns a data set holding elements, sorted by tag.
func NewDataSet(elements ...*Element) *DataSet {
	ds := &DataSet{}
	for _, e := range elements {
		ds.Set(e)
	}
	return ds
}

// Find returns the element with tag t, or nil.
func (ds *DataSet) Find(t Tag) *Element {
	if ds == nil {
		return nil
	}
	for _, e := range ds.Elements {
		if e.Tag == t {
			return e
		}
	}
	return nil
}

// String returns the trimmed text value of tag t, or "" when absent.
func (ds *DataSet) String(t Tag) string { return ds.Find(t).String() }

// Set inserts e in tag order, replacing an element with the same tag.
func (ds *DataSet) Set(e *Element) {
	i := sort.Search(len(ds.Elements), func(i int) bool {
		return ds.Elements[i].Tag.Uint32() >= e.Tag.Uint32()
	})
	if i < len(ds.Elements) && ds.Elements[i].Tag == e.Tag {
		ds.Elements[i] = e
		return
	}
	ds.Elements = append(ds.Elements, nil)
	copy(ds.Elements[i+1:], ds.Elements[i:])
	ds.Elements[i] = e
}

// Remove deletes the element with tag t, if present.
func (ds *DataSet) Remove(t Tag) {
	for i, e := range ds.Elements {
		if e.Tag == t {
			ds.Elements = append(ds.Elements[:i], ds.Elements[i+1:]...)
			return
		}
	}
}

// float helpers for dump output.
func float32At(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }
func float64At(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }
