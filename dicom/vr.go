package dicom

// VR is a value representation code such as "UI" or "SQ". Codes that the
// standard does not define are kept as read.
type VR string

// Value representations defined by PS3.5.
const (
	AE VR = "AE"
	AS VR = "AS"
	AT VR = "AT"
	CS VR = "CS"
	DA VR = "DA"
	DS VR = "DS"
	DT VR = "DT"
	FD VR = "FD"
	FL VR = "FL"
	IS VR = "IS"
	LO VR = "LO"
	LT VR = "LT"
	OB VR = "OB"
	OD VR = "OD"
	OF VR = "OF"
	OL VR = "OL"
	OV VR = "OV"
	OW VR = "OW"
	PN VR = "PN"
	SH VR = "SH"
	SL VR = "SL"
	SQ VR = "SQ"
	SS VR = "SS"
	ST VR = "ST"
	SV VR = "SV"
	TM VR = "TM"
	UC VR = "UC"
	UI VR = "UI"
	UL VR = "UL"
	UN VR = "UN"
	UR VR = "UR"
	US VR = "US"
	UT VR = "UT"
	UV VR = "UV"
)

type vrInfo struct {
	long bool // explicit VR uses 2 reserved bytes and a 4-byte length
	text bool // character string, padded with a space
	unit int  // size of one binary number (for byte swapping), 0 otherwise
}

var vrTable = map[VR]vrInfo{
	AE: {text: true}, AS: {text: true}, CS: {text: true}, DA: {text: true},
	DS: {text: true}, DT: {text: true}, IS: {text: true}, LO: {text: true},
	LT: {text: true}, PN: {text: true}, SH: {text: true}, ST: {text: true},
	TM: {text: true}, UI: {text: true},
	UC: {long: true, text: true}, UR: {long: true, text: true},
	UT: {long: true, text: true},
	AT: {unit: 2}, US: {unit: 2}, SS: {unit: 2}, UL: {unit: 4},
	SL: {unit: 4}, FL: {unit: 4}, FD: {unit: 8},
	OB: {long: true}, UN: {long: true}, SQ: {long: true},
	OW: {long: true, unit: 2}, OF: {long: true, unit: 4},
	OL: {long: true, unit: 4}, OD: {long: true, unit: 8},
	OV: {long: true, unit: 8}, SV: {long: true, unit: 8},
	UV: {long: true, unit: 8},
}

// Known reports whether the VR is defined by the standard.
func (v VR) Known() bool { _, ok := vrTable[v]; return ok }

// LongLength reports whether explicit VR encoding gives this VR a 4-byte
// length. Unknown VR codes are treated like UN, as PS3.5 asks.
func (v VR) LongLength() bool {
	info, ok := vrTable[v]
	return !ok || info.long
}

// IsText reports whether values of this VR are character strings.
func (v VR) IsText() bool { return vrTable[v].text }

// padByte is the byte that pads an odd-length value to even length.
func (v VR) padByte() byte {
	if v.IsText() && v != UI {
		return ' '
	}
	return 0
}

// isVRCode reports whether two bytes look like a VR code (two upper-case
// letters); anything else in an explicit VR stream is an implicit element.
func isVRCode(a, b byte) bool {
	return 'A' <= a && a <= 'Z' && 'A' <= b && b <= 'Z'
}
