package ul

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits on lengths read from the wire. Every length is checked against one
// of these before anything is allocated.
const (
	// MaxAssociatePDULength bounds an A-ASSOCIATE-RQ/AC body. 128 contexts
	// with a dozen 64-byte transfer syntaxes each stay well below it.
	MaxAssociatePDULength = 1 << 20
	// MaxPDataPDULength bounds a P-DATA-TF PDU when we announced no limit.
	MaxPDataPDULength = 64 << 20
	// MaxCommandLength bounds a DIMSE command set reassembled from PDVs.
	MaxCommandLength = 1 << 20
	// MaxUIDLength is the longest UID PS3.5 allows.
	MaxUIDLength = 64
	// MaxAETitleLength is the width of an AE title field.
	MaxAETitleLength = 16
	// MaxVersionNameLength is the longest implementation version name.
	MaxVersionNameLength = 16
	// MaxPresentationContexts is how many odd IDs fit in 1..255.
	MaxPresentationContexts = 128
	// MinMaxPDULength is the smallest receive limit we announce or honour.
	MinMaxPDULength = 4096
	// DefaultMaxPDULength is what we announce we can receive by default.
	DefaultMaxPDULength = 16384
)

// PDU types (PS3.8 section 9.3).
const (
	TypeAssociateRQ byte = 0x01
	TypeAssociateAC byte = 0x02
	TypeAssociateRJ byte = 0x03
	TypePData       byte = 0x04
	TypeReleaseRQ   byte = 0x05
	TypeReleaseRP   byte = 0x06
	TypeAbort       byte = 0x07
)

// Item types inside A-ASSOCIATE PDUs.
const (
	itemAppContext     byte = 0x10
	itemPresContextRQ  byte = 0x20
	itemPresContextAC  byte = 0x21
	itemAbstractSyntax byte = 0x30
	itemTransferSyntax byte = 0x40
	itemUserInfo       byte = 0x50
	itemMaxLength      byte = 0x51
	itemImplClassUID   byte = 0x52
	itemAsyncWindow    byte = 0x53
	itemRoleSelection  byte = 0x54
	itemImplVersion    byte = 0x55
)

// ApplicationContext is the only DICOM application context name.
const ApplicationContext = "1.2.840.10008.3.1.1.1"

const pduHeaderLength = 6

// ErrMalformed marks a PDU that does not follow PS3.8.
var ErrMalformed = errors.New("malformed PDU")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// header is the fixed part of every PDU.
type header struct {
	Type   byte
	Length uint32
}

func readHeader(r io.Reader, buf []byte) (header, error) {
	if _, err := io.ReadFull(r, buf[:pduHeaderLength]); err != nil {
		return header{}, err
	}
	return header{Type: buf[0], Length: binary.BigEndian.Uint32(buf[2:6])}, nil
}

func appendHeader(b []byte, typ byte, length int) []byte {
	b = append(b, typ, 0)
	return binary.BigEndian.AppendUint32(b, uint32(length))
}

// AssociateRJ is an A-ASSOCIATE-RJ PDU.
type AssociateRJ struct {
	Result byte // 1 rejected-permanent, 2 rejected-transient
	Source byte // 1 service user, 2 provider (ACSE), 3 provider (presentation)
	Reason byte
}

// Reject results, sources and reasons (PS3.8 table 9-21).
const (
	RejectPermanent byte = 1
	RejectTransient byte = 2

	RejectSourceUser     byte = 1
	RejectSourceACSE     byte = 2
	RejectSourcePresent  byte = 3
	RejectNoReason       byte = 1
	RejectAppContext     byte = 2
	RejectCallingAE      byte = 3
	RejectCalledAE       byte = 7
	RejectProtoVersion   byte = 2 // with source ACSE
	RejectCongestion     byte = 1 // with source presentation
	RejectLocalLimitHits byte = 2 // with source presentation
)

func (rj AssociateRJ) Error() string {
	return fmt.Sprintf("association rejected (result %d, source %d, reason %d: %s)",
		rj.Result, rj.Source, rj.Reason, rj.reasonText())
}

func (rj AssociateRJ) reasonText() string {
	switch {
	case rj.Source == RejectSourceUser && rj.Reason == RejectCallingAE:
		return "calling AE title not recognized"
	case rj.Source == RejectSourceUser && rj.Reason == RejectCalledAE:
		return "called AE title not recognized"
	case rj.Source == RejectSourceUser && rj.Reason == RejectAppContext:
		return "application context not supported"
	case rj.Source == RejectSourceACSE && rj.Reason == RejectProtoVersion:
		return "protocol version not supported"
	case rj.Source == RejectSourcePresent && rj.Reason == RejectCongestion:
		return "temporary congestion"
	case rj.Source == RejectSourcePresent && rj.Reason == RejectLocalLimitHits:
		return "local limit exceeded"
	}
	return "no reason given"
}

func (rj AssociateRJ) append(b []byte) []byte {
	b = appendHeader(b, TypeAssociateRJ, 4)
	return append(b, 0, rj.Result, rj.Source, rj.Reason)
}

// Abort is an A-ABORT PDU, also used as the error when a peer aborts.
type Abort struct {
	Source byte // 0 service user, 2 service provider
	Reason byte // meaningful when Source is 2
}

// Abort sources and reasons (PS3.8 table 9-26).
const (
	AbortSourceUser     byte = 0
	AbortSourceProvider byte = 2

	AbortNotSpecified      byte = 0
	AbortUnrecognizedPDU   byte = 1
	AbortUnexpectedPDU     byte = 2
	AbortUnrecognizedParam byte = 4
	AbortUnexpectedParam   byte = 5
	AbortInvalidParam      byte = 6
)

func (a Abort) Error() string {
	src := "service user"
	if a.Source == AbortSourceProvider {
		src = "service provider"
	}
	return fmt.Sprintf("association aborted by %s (reason %d)", src, a.Reason)
}

func (a Abort) append(b []byte) []byte {
	b = appendHeader(b, TypeAbort, 4)
	return append(b, 0, 0, a.Source, a.Reason)
}

func appendRelease(b []byte, typ byte) []byte {
	b = appendHeader(b, typ, 4)
	return append(b, 0, 0, 0, 0)
}

// PDV is one presentation data value of a P-DATA-TF PDU.
type PDV struct {
	ContextID byte
	Command   bool // bit 0 of the control header
	Last      bool // bit 1 of the control header
	Data      []byte
}

const pdvHeaderLength = 6

// decodePData splits a P-DATA-TF body into its PDVs (used by tests and
// fuzzing; the association streams PDVs instead).
func decodePData(body []byte) ([]PDV, error) {
	var pdvs []PDV
	for len(body) > 0 {
		if len(body) < pdvHeaderLength {
			return nil, malformed("PDV header truncated")
		}
		n := binary.BigEndian.Uint32(body[:4])
		if n < 2 || uint64(n) > uint64(len(body)-4) {
			return nil, malformed("PDV length %d does not fit the PDU", n)
		}
		ctl := body[5]
		pdvs = append(pdvs, PDV{ContextID: body[4], Command: ctl&1 != 0, Last: ctl&2 != 0, Data: body[6 : 4+n]})
		body = body[4+n:]
	}
	if len(pdvs) == 0 {
		return nil, malformed("P-DATA-TF without PDV")
	}
	return pdvs, nil
}

func appendPDVHeader(b []byte, pcID byte, command, last bool, n int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(n+2))
	var ctl byte
	if command {
		ctl |= 1
	}
	if last {
		ctl |= 2
	}
	return append(b, pcID, ctl)
}

// DecodePDU decodes one complete PDU held in b. It is the entry point for
// fuzzing and tests; associations read PDUs from the connection directly.
// The result is *AssociateRQ, *AssociateAC, AssociateRJ, []PDV,
// ReleaseRQ, ReleaseRP or Abort.
func DecodePDU(b []byte) (any, error) {
	if len(b) < pduHeaderLength {
		return nil, malformed("PDU header truncated")
	}
	h := header{Type: b[0], Length: binary.BigEndian.Uint32(b[2:6])}
	if uint64(h.Length) != uint64(len(b)-pduHeaderLength) {
		return nil, malformed("PDU length %d, have %d bytes", h.Length, len(b)-pduHeaderLength)
	}
	return decodeBody(h, b[pduHeaderLength:])
}

// ReleaseRQ and ReleaseRP are the decoded forms of the release PDUs.
type (
	ReleaseRQ struct{}
	ReleaseRP struct{}
)

func decodeBody(h header, body []byte) (any, error) {
	switch h.Type {
	case TypeAssociateRQ, TypeAssociateAC:
		a, err := decodeAssociate(h.Type, body)
		if err != nil {
			return nil, err
		}
		if h.Type == TypeAssociateRQ {
			return (*AssociateRQ)(a), nil
		}
		return (*AssociateAC)(a), nil
	case TypeAssociateRJ:
		if len(body) != 4 {
			return nil, malformed("A-ASSOCIATE-RJ length %d", len(body))
		}
		return AssociateRJ{Result: body[1], Source: body[2], Reason: body[3]}, nil
	case TypePData:
		return decodePData(body)
	case TypeReleaseRQ, TypeReleaseRP, TypeAbort:
		if len(body) != 4 {
			return nil, malformed("PDU type %#02x length %d", h.Type, len(body))
		}
		switch h.Type {
		case TypeReleaseRQ:
			return ReleaseRQ{}, nil
		case TypeReleaseRP:
			return ReleaseRP{}, nil
		}
		return Abort{Source: body[2], Reason: body[3]}, nil
	}
	return nil, malformed("unknown PDU type %#02x", h.Type)
}
