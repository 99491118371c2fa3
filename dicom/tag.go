package dicom

import (
	"fmt"
	"strconv"
	"strings"
)

// Tag identifies a data element by group and element number.
type Tag struct {
	Group   uint16
	Element uint16
}

// Uint32 returns the tag as gggg_eeee, which orders tags as the standard does.
func (t Tag) Uint32() uint32 { return uint32(t.Group)<<16 | uint32(t.Element) }

// String formats the tag as (gggg,eeee) in upper-case hex, as dcmdump does.
func (t Tag) String() string { return fmt.Sprintf("(%04X,%04X)", t.Group, t.Element) }

// IsPrivate reports whether the tag belongs to an odd (private) group.
func (t Tag) IsPrivate() bool { return t.Group%2 == 1 }

// IsGroupLength reports whether the tag is a group length element (gggg,0000).
func (t Tag) IsGroupLength() bool { return t.Element == 0 }

// Delimitation and item tags (group FFFE); they carry no VR.
var (
	ItemTag                  = Tag{0xFFFE, 0xE000}
	ItemDelimitationTag      = Tag{0xFFFE, 0xE00D}
	SequenceDelimitationTag  = Tag{0xFFFE, 0xE0DD}
	FileMetaGroupLengthTag   = Tag{0x0002, 0x0000}
	CommandGroupLengthTag    = Tag{0x0000, 0x0000}
	PixelDataTag             = Tag{0x7FE0, 0x0010}
	SpecificCharacterSetTag  = Tag{0x0008, 0x0005}
	SOPClassUIDTag           = Tag{0x0008, 0x0016}
	SOPInstanceUIDTag        = Tag{0x0008, 0x0018}
	StudyInstanceUIDTag      = Tag{0x0020, 0x000D}
	SeriesInstanceUIDTag     = Tag{0x0020, 0x000E}
	TransferSyntaxUIDTag     = Tag{0x0002, 0x0010}
	MediaStorageSOPClassTag  = Tag{0x0002, 0x0002}
	MediaStorageSOPInstTag   = Tag{0x0002, 0x0003}
	ImplementationClassTag   = Tag{0x0002, 0x0012}
	ImplementationVersionTag = Tag{0x0002, 0x0013}
)

// ParseTag parses "gggg,eeee", "(gggg,eeee)" or "ggggeeee" (hex), or a
// keyword from the dictionary such as "PatientID".
func ParseTag(s string) (Tag, error) {
	if e, ok := LookupKeyword(s); ok {
		return e.Tag, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(s, "("), ")")
	h = strings.Replace(h, ",", "", 1)
	if len(h) == 8 {
		if v, err := strconv.ParseUint(h, 16, 32); err == nil {
			return Tag{uint16(v >> 16), uint16(v)}, nil
		}
	}
	return Tag{}, fmt.Errorf("parse tag %q: %w (want gggg,eeee or a keyword)", s, ErrUnknownTag)
}
