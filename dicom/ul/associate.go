package ul

import (
	"encoding/binary"
	"strings"
)

// Associate holds the fields shared by A-ASSOCIATE-RQ and -AC.
type Associate struct {
	ProtocolVersion uint16
	CalledAE        string // trimmed of padding
	CallingAE       string // trimmed of padding
	AppContext      string
	Contexts        []PresentationContext
	User            UserInfo
}

// AssociateRQ is an A-ASSOCIATE-RQ PDU.
type AssociateRQ Associate

// AssociateAC is an A-ASSOCIATE-AC PDU.
type AssociateAC Associate

// Result is a presentation context result in an A-ASSOCIATE-AC.
type Result byte

// Presentation context results (PS3.8 table 9-18).
const (
	Acceptance                   Result = 0
	UserRejection                Result = 1
	NoReason                     Result = 2
	AbstractSyntaxNotSupported   Result = 3
	TransferSyntaxesNotSupported Result = 4
)

func (r Result) String() string {
	switch r {
	case Acceptance:
		return "accepted"
	case UserRejection:
		return "user rejection"
	case NoReason:
		return "rejected (no reason)"
	case AbstractSyntaxNotSupported:
		return "abstract syntax not supported"
	case TransferSyntaxesNotSupported:
		return "transfer syntaxes not supported"
	}
	return "unknown result"
}

// PresentationContext is a proposed (RQ) or answered (AC) context.
type PresentationContext struct {
	ID               byte
	AbstractSyntax   string   // RQ only
	TransferSyntaxes []string // RQ: proposed; AC: the one accepted
	Result           Result   // AC only
}

// RoleSelection is an SCP/SCU role selection sub-item (0x54).
type RoleSelection struct {
	SOPClassUID string
	SCU, SCP    bool
}

// RawItem is a user information sub-item we carry but do not interpret.
type RawItem struct {
	Type byte
	Data []byte
}

// UserInfo is the user information item (0x50).
type UserInfo struct {
	MaxPDULength                 uint32 // what the sender can receive; 0 = no limit
	ImplementationClassUID       string
	ImplementationVersion        string
	Roles                        []RoleSelection
	AsyncInvoked, AsyncPerformed uint16 // 0x53, present when HasAsync
	HasAsync                     bool
	Other                        []RawItem
}

func (a *AssociateRQ) append(b []byte) []byte { return (*Associate)(a).append(b, TypeAssociateRQ) }
func (a *AssociateAC) append(b []byte) []byte { return (*Associate)(a).append(b, TypeAssociateAC) }

func (a *Associate) append(b []byte, typ byte) []byte {
	start := len(b)
	b = appendHeader(b, typ, 0)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(b, 0, 0)
	b = appendPadded(b, a.CalledAE, 16, ' ')
	b = appendPadded(b, a.CallingAE, 16, ' ')
	b = append(b, make([]byte, 32)...)
	ctx := a.AppContext
	if ctx == "" {
		ctx = ApplicationContext
	}
	b = appendItem(b, itemAppContext, []byte(ctx))
	for _, pc := range a.Contexts {
		b = appendContext(b, typ, pc)
	}
	b = a.User.append(b)
	binary.BigEndian.PutUint32(b[start+2:], uint32(len(b)-start-pduHeaderLength))
	return b
}

func appendPadded(b []byte, s string, n int, pad byte) []byte {
	if len(s) > n {
		s = s[:n]
	}
	b = append(b, s...)
	for i := len(s); i < n; i++ {
		b = append(b, pad)
	}
	return b
}

func appendItem(b []byte, typ byte, v []byte) []byte {
	b = append(b, typ, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// beginItem writes an item header with a zero length and returns its offset
// for endItem to patch.
func beginItem(b []byte, typ byte) ([]byte, int) {
	return append(b, typ, 0, 0, 0), len(b)
}

func endItem(b []byte, at int) []byte {
	binary.BigEndian.PutUint16(b[at+2:], uint16(len(b)-at-4))
	return b
}

func appendContext(b []byte, typ byte, pc PresentationContext) []byte {
	if typ == TypeAssociateRQ {
		b, at := beginItem(b, itemPresContextRQ)
		b = append(b, pc.ID, 0, 0, 0)
		b = appendItem(b, itemAbstractSyntax, []byte(pc.AbstractSyntax))
		for _, ts := range pc.TransferSyntaxes {
			b = appendItem(b, itemTransferSyntax, []byte(ts))
		}
		return endItem(b, at)
	}
	b, at := beginItem(b, itemPresContextAC)
	b = append(b, pc.ID, 0, byte(pc.Result), 0)
	if len(pc.TransferSyntaxes) > 0 {
		b = appendItem(b, itemTransferSyntax, []byte(pc.TransferSyntaxes[0]))
	} else {
		b = appendItem(b, itemTransferSyntax, nil)
	}
	return endItem(b, at)
}

func (u *UserInfo) append(b []byte) []byte {
	b, at := beginItem(b, itemUserInfo)
	b = appendItem(b, itemMaxLength, binary.BigEndian.AppendUint32(nil, u.MaxPDULength))
	b = appendItem(b, itemImplClassUID, []byte(u.ImplementationClassUID))
	if u.HasAsync {
		v := binary.BigEndian.AppendUint16(nil, u.AsyncInvoked)
		b = appendItem(b, itemAsyncWindow, binary.BigEndian.AppendUint16(v, u.AsyncPerformed))
	}
	for _, r := range u.Roles {
		v := binary.BigEndian.AppendUint16(nil, uint16(len(r.SOPClassUID)))
		v = append(v, r.SOPClassUID...)
		v = append(v, boolByte(r.SCU), boolByte(r.SCP))
		b = appendItem(b, itemRoleSelection, v)
	}
	if u.ImplementationVersion != "" {
		b = appendItem(b, itemImplVersion, []byte(u.ImplementationVersion))
	}
	for _, it := range u.Other {
		b = appendItem(b, it.Type, it.Data)
	}
	return endItem(b, at)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// items iterates over a sequence of items (1-byte type, 1 reserved, 2-byte
// length), checking every length against what is left.
func items(b []byte, fn func(typ byte, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return malformed("item header truncated")
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if n > len(b)-4 {
			return malformed("item %#02x length %d exceeds the %d bytes left", b[0], n, len(b)-4)
		}
		if err := fn(b[0], b[4:4+n]); err != nil {
			return err
		}
		b = b[4+n:]
	}
	return nil
}

func decodeAssociate(typ byte, body []byte) (*Associate, error) {
	if len(body) < 68 {
		return nil, malformed("A-ASSOCIATE body of %d bytes is shorter than 68", len(body))
	}
	a := &Associate{
		ProtocolVersion: binary.BigEndian.Uint16(body[0:2]),
		CalledAE:        trimAE(body[4:20]),
		CallingAE:       trimAE(body[20:36]),
	}
	err := items(body[68:], func(it byte, v []byte) error {
		switch it {
		case itemAppContext:
			s, err := uid(v)
			a.AppContext = s
			return err
		case itemPresContextRQ, itemPresContextAC:
			if (it == itemPresContextRQ) != (typ == TypeAssociateRQ) {
				return malformed("presentation context item %#02x in PDU type %#02x", it, typ)
			}
			if len(a.Contexts) >= MaxPresentationContexts {
				return malformed("more than %d presentation contexts", MaxPresentationContexts)
			}
			pc, err := decodeContext(it, v)
			a.Contexts = append(a.Contexts, pc)
			return err
		case itemUserInfo:
			return a.User.decode(v)
		}
		return nil // unknown items are ignored (PS3.8 9.3.1)
	})
	if err != nil {
		return nil, err
	}
	if a.AppContext == "" {
		return nil, malformed("no application context item")
	}
	return a, nil
}

func decodeContext(it byte, v []byte) (PresentationContext, error) {
	if len(v) < 4 {
		return PresentationContext{}, malformed("presentation context item of %d bytes", len(v))
	}
	pc := PresentationContext{ID: v[0]}
	if it == itemPresContextAC {
		pc.Result = Result(v[2])
	}
	err := items(v[4:], func(sub byte, sv []byte) error {
		switch sub {
		case itemAbstractSyntax:
			s, err := uid(sv)
			pc.AbstractSyntax = s
			return err
		case itemTransferSyntax:
			s, err := uid(sv)
			if s != "" || it == itemPresContextRQ {
				pc.TransferSyntaxes = append(pc.TransferSyntaxes, s)
			}
			return err
		}
		return malformed("unexpected sub-item %#02x in presentation context %d", sub, pc.ID)
	})
	return pc, err
}

func (u *UserInfo) decode(v []byte) error {
	return items(v, func(it byte, sv []byte) error {
		switch it {
		case itemMaxLength:
			if len(sv) != 4 {
				return malformed("maximum length sub-item of %d bytes", len(sv))
			}
			u.MaxPDULength = binary.BigEndian.Uint32(sv)
		case itemImplClassUID:
			s, err := uid(sv)
			u.ImplementationClassUID = s
			return err
		case itemImplVersion:
			if len(sv) > MaxVersionNameLength {
				sv = sv[:MaxVersionNameLength]
			}
			u.ImplementationVersion = strings.TrimRight(string(sv), " \x00")
		case itemAsyncWindow:
			if len(sv) != 4 {
				return malformed("asynchronous operations window of %d bytes", len(sv))
			}
			u.HasAsync = true
			u.AsyncInvoked = binary.BigEndian.Uint16(sv)
			u.AsyncPerformed = binary.BigEndian.Uint16(sv[2:])
		case itemRoleSelection:
			r, err := decodeRole(sv)
			if err != nil {
				return err
			}
			u.Roles = append(u.Roles, r)
		default:
			u.Other = append(u.Other, RawItem{Type: it, Data: append([]byte(nil), sv...)})
		}
		return nil
	})
}

func decodeRole(v []byte) (RoleSelection, error) {
	if len(v) < 2 {
		return RoleSelection{}, malformed("role selection sub-item truncated")
	}
	n := int(binary.BigEndian.Uint16(v))
	if n+4 != len(v) {
		return RoleSelection{}, malformed("role selection UID length %d in %d bytes", n, len(v))
	}
	s, err := uid(v[2 : 2+n])
	return RoleSelection{SOPClassUID: s, SCU: v[2+n] == 1, SCP: v[3+n] == 1}, err
}

func uid(v []byte) (string, error) {
	s := strings.TrimRight(string(v), "\x00 ")
	if len(s) > MaxUIDLength {
		return "", malformed("UID of %d characters (at most %d)", len(s), MaxUIDLength)
	}
	return s, nil
}

func trimAE(b []byte) string {
	return strings.Trim(string(b), " \x00")
}
