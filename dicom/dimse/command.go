package dimse

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode"
)

// Command fields (PS3.7 section E.1).
const (
	CStoreRQ  uint16 = 0x0001
	CStoreRSP uint16 = 0x8001
	CFindRQ   uint16 = 0x0020
	CFindRSP  uint16 = 0x8020
	CMoveRQ   uint16 = 0x0021
	CMoveRSP  uint16 = 0x8021
	CEchoRQ   uint16 = 0x0030
	CEchoRSP  uint16 = 0x8030
	CCancelRQ uint16 = 0x0FFF
)

// noDataSet is the (0000,0800) value meaning no data set follows.
const noDataSet = 0x0101

// Priorities (0000,0700).
const (
	PriorityMedium uint16 = 0
	PriorityHigh   uint16 = 1
	PriorityLow    uint16 = 2
)

// Command is a DIMSE command set. Zero strings are left out; the optional
// US fields are pointers so that a missing one is told apart from zero.
type Command struct {
	AffectedSOPClassUID       string  // (0000,0002)
	RequestedSOPClassUID      string  // (0000,0003)
	CommandField              uint16  // (0000,0100)
	MessageID                 uint16  // (0000,0110), requests
	MessageIDBeingRespondedTo uint16  // (0000,0120), responses and C-CANCEL
	MoveDestination           string  // (0000,0600)
	Priority                  uint16  // (0000,0700), C-STORE/FIND/MOVE requests
	HasDataSet                bool    // (0000,0800) other than 0x0101
	Status                    Status  // (0000,0900), responses
	ErrorComment              string  // (0000,0902)
	AffectedSOPInstanceUID    string  // (0000,1000)
	RequestedSOPInstanceUID   string  // (0000,1001)
	Remaining                 *uint16 // (0000,1020)
	Completed                 *uint16 // (0000,1021)
	Failed                    *uint16 // (0000,1022)
	Warning                   *uint16 // (0000,1023)
	MoveOriginatorAE          string  // (0000,1030)
	MoveOriginatorMessageID   *uint16 // (0000,1031)
}

// IsResponse reports whether the command field is a response.
func (c *Command) IsResponse() bool { return c.CommandField&0x8000 != 0 }

func (c *Command) hasPriority() bool {
	switch c.CommandField {
	case CStoreRQ, CFindRQ, CMoveRQ, 0x0010:
		return true
	}
	return false
}

// Encode returns the command set in Implicit VR Little Endian, headed by
// its (0000,0000) group length.
func (c *Command) Encode() []byte {
	b := make([]byte, 12, 256)
	b = putUID(b, 0x0002, c.AffectedSOPClassUID)
	b = putUID(b, 0x0003, c.RequestedSOPClassUID)
	b = putUS(b, 0x0100, c.CommandField)
	if !c.IsResponse() && c.CommandField != CCancelRQ {
		b = putUS(b, 0x0110, c.MessageID)
	}
	if c.IsResponse() || c.CommandField == CCancelRQ {
		b = putUS(b, 0x0120, c.MessageIDBeingRespondedTo)
	}
	b = putText(b, 0x0600, c.MoveDestination)
	if c.hasPriority() {
		b = putUS(b, 0x0700, c.Priority)
	}
	dst := uint16(noDataSet)
	if c.HasDataSet {
		dst = 0x0001
	}
	b = putUS(b, 0x0800, dst)
	if c.IsResponse() {
		b = putUS(b, 0x0900, uint16(c.Status))
	}
	b = putText(b, 0x0902, c.ErrorComment)
	b = putUID(b, 0x1000, c.AffectedSOPInstanceUID)
	b = putUID(b, 0x1001, c.RequestedSOPInstanceUID)
	for i, p := range []*uint16{c.Remaining, c.Completed, c.Failed, c.Warning} {
		if p != nil {
			b = putUS(b, 0x1020+uint16(i), *p)
		}
	}
	b = putText(b, 0x1030, c.MoveOriginatorAE)
	if c.MoveOriginatorMessageID != nil {
		b = putUS(b, 0x1031, *c.MoveOriginatorMessageID)
	}
	binary.LittleEndian.PutUint32(b[0:], 0)
	binary.LittleEndian.PutUint32(b[4:], 4)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)-12))
	return b
}

func putHeader(b []byte, elem uint16, n int) []byte {
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, elem)
	return binary.LittleEndian.AppendUint32(b, uint32(n))
}

func putUS(b []byte, elem uint16, v uint16) []byte {
	return binary.LittleEndian.AppendUint16(putHeader(b, elem, 2), v)
}

// putUID writes a UI value padded with NUL to even length.
func putUID(b []byte, elem uint16, s string) []byte {
	if s == "" {
		return b
	}
	n := len(s) + len(s)%2
	b = append(putHeader(b, elem, n), s...)
	if len(s)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// putText writes an AE or LO value padded with a space to even length.
func putText(b []byte, elem uint16, s string) []byte {
	if s == "" {
		return b
	}
	n := len(s) + len(s)%2
	b = append(putHeader(b, elem, n), s...)
	if len(s)%2 == 1 {
		b = append(b, ' ')
	}
	return b
}

// DecodeCommand parses an Implicit VR Little Endian command set. Elements
// it does not know are skipped; a length running past the end is an error.
func DecodeCommand(b []byte) (*Command, error) {
	c := &Command{}
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return nil, fmt.Errorf("decode command: element header truncated at offset %d", off)
		}
		group := binary.LittleEndian.Uint16(b[off:])
		elem := binary.LittleEndian.Uint16(b[off+2:])
		n := binary.LittleEndian.Uint32(b[off+4:])
		off += 8
		if uint64(n) > uint64(len(b)-off) {
			return nil, fmt.Errorf("decode command: (%04X,%04X) length %d runs past the end at offset %d", group, elem, n, off)
		}
		v := b[off : off+int(n)]
		off += int(n)
		if group != 0 {
			return nil, fmt.Errorf("decode command: element (%04X,%04X) outside group 0000", group, elem)
		}
		if err := c.set(elem, v); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Command) set(elem uint16, v []byte) error {
	// Padding (spaces, NULs) on either side is insignificant.
	str := func() string {
		return strings.TrimFunc(string(v), func(r rune) bool { return r == 0 || unicode.IsSpace(r) })
	}
	us := func() (uint16, error) {
		if len(v) != 2 {
			return 0, fmt.Errorf("decode command: (0000,%04X) has %d bytes, want 2", elem, len(v))
		}
		return binary.LittleEndian.Uint16(v), nil
	}
	switch elem {
	case 0x0002:
		c.AffectedSOPClassUID = str()
	case 0x0003:
		c.RequestedSOPClassUID = str()
	case 0x0600:
		c.MoveDestination = str()
	case 0x0902:
		c.ErrorComment = str()
	case 0x1000:
		c.AffectedSOPInstanceUID = str()
	case 0x1001:
		c.RequestedSOPInstanceUID = str()
	case 0x1030:
		c.MoveOriginatorAE = str()
	case 0x0100, 0x0110, 0x0120, 0x0700, 0x0800, 0x0900, 0x1020, 0x1021, 0x1022, 0x1023, 0x1031:
		x, err := us()
		if err != nil {
			return err
		}
		c.setUS(elem, x)
	}
	return nil
}

func (c *Command) setUS(elem, x uint16) {
	switch elem {
	case 0x0100:
		c.CommandField = x
	case 0x0110:
		c.MessageID = x
	case 0x0120:
		c.MessageIDBeingRespondedTo = x
	case 0x0700:
		c.Priority = x
	case 0x0800:
		c.HasDataSet = x != noDataSet
	case 0x0900:
		c.Status = Status(x)
	case 0x1020:
		c.Remaining = &x
	case 0x1021:
		c.Completed = &x
	case 0x1022:
		c.Failed = &x
	case 0x1023:
		c.Warning = &x
	case 0x1031:
		c.MoveOriginatorMessageID = &x
	}
}
