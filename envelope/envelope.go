// Package envelope makes, checks and decodes command envelopes: ids,
// addresses, validation against a relay's limits, and the hop record each
// relay appends. It does not route or store them.
package envelope

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Limits an envelope is checked against.
const (
	MaxCommandLen = 128
	MaxArgs       = 64
	MaxArgBytes   = 8 << 10
	MaxHops       = 32
)

// Defaults of the limits a relay checks envelopes against.
const (
	DefaultMaxBody = 1 << 20            // bytes of body
	DefaultMaxTTL  = 7 * 24 * time.Hour // from created_at to expires_at
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid envelope")

// NewID returns a new envelope id: a UUIDv7, time-ordered, so that dedupe
// records can be expired by their key alone.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// IDTime returns the creation time encoded in a UUIDv7 id.
func IDTime(id string) (time.Time, error) {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return time.Time{}, fmt.Errorf("%w: id %q is not a UUIDv7", ErrInvalid, id)
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec), nil
}

// IDKey returns the 16 bytes of a UUIDv7 id: its dedupe key.
func IDKey(id string) ([]byte, error) {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return nil, fmt.Errorf("%w: id %q is not a UUIDv7", ErrInvalid, id)
	}
	return u[:], nil
}

// ParseAddress parses "relay/client" (or "relay/" for a relay itself).
func ParseAddress(s string) (*pb.Address, error) {
	relay, client, ok := strings.Cut(s, "/")
	if !ok || !ValidID(relay) || (client != "" && !ValidID(client)) {
		return nil, fmt.Errorf("address %q is invalid: use RELAY/CLIENT, like county-a/clinic-12 (lower-case letters, digits and '-')", s)
	}
	return &pb.Address{Relay: relay, Client: client}, nil
}

// FormatAddress formats an address as relay/client.
func FormatAddress(a *pb.Address) string { return a.GetRelay() + "/" + a.GetClient() }

// ValidID reports whether s is a valid relay or client id: 1 to 64
// lower-case letters, digits and '-'.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks an envelope a relay is asked to accept.
func Validate(e *pb.Envelope, maxBody int) error {
	if _, err := IDKey(e.Id); err != nil {
		return err
	}
	for name, a := range map[string]*pb.Address{"from": e.From, "to": e.To} {
		if a == nil || !ValidID(a.Relay) || (a.Client != "" && !ValidID(a.Client)) {
			return fmt.Errorf("%w: %s address %q is not RELAY/CLIENT", ErrInvalid, name, FormatAddress(a))
		}
	}
	switch {
	case e.To.Client == "":
		return fmt.Errorf("%w: to address %q names no client", ErrInvalid, FormatAddress(e.To))
	case e.Kind != pb.Kind_KIND_RECEIPT && (e.Command == "" || len(e.Command) > MaxCommandLen):
		return fmt.Errorf("%w: command must be 1 to %d bytes", ErrInvalid, MaxCommandLen)
	case len(e.Body) > maxBody:
		return fmt.Errorf("%w: body is %d bytes, limit %d", ErrInvalid, len(e.Body), maxBody)
	case len(e.Args) > MaxArgs:
		return fmt.Errorf("%w: %d args, limit %d", ErrInvalid, len(e.Args), MaxArgs)
	case len(e.Hops) > MaxHops:
		return fmt.Errorf("%w: %d hops, limit %d (a routing loop?)", ErrInvalid, len(e.Hops), MaxHops)
	}
	n := 0
	for k, v := range e.Args {
		n += len(k) + len(v)
	}
	if n > MaxArgBytes {
		return fmt.Errorf("%w: args are %d bytes, limit %d", ErrInvalid, n, MaxArgBytes)
	}
	return nil
}

// Decode decodes an encoded envelope.
func Decode(raw []byte) (*pb.Envelope, error) {
	e := new(pb.Envelope)
	if err := proto.Unmarshal(raw, e); err != nil {
		return nil, fmt.Errorf("%w: decode: %v", ErrInvalid, err)
	}
	return e, nil
}

// AppendHop appends a hop record for relay at t to an encoded envelope,
// without decoding it: repeated fields may be split in protobuf encoding, so
// the result decodes to the same envelope with one more hop.
func AppendHop(raw []byte, relay string, t time.Time) []byte {
	// Hop{relay = 1; at = 2 (Timestamp{seconds = 1; nanos = 2})}, encoded
	// by hand: relays do this for every envelope they store.
	var ts []byte
	if sec := t.Unix(); sec != 0 {
		ts = protowire.AppendTag(ts, 1, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(sec))
	}
	if nsec := t.Nanosecond(); nsec != 0 {
		ts = protowire.AppendTag(ts, 2, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(nsec))
	}
	hopLen := protowire.SizeTag(1) + protowire.SizeBytes(len(relay)) + protowire.SizeTag(2) + protowire.SizeBytes(len(ts))
	out := make([]byte, 0, len(raw)+protowire.SizeTag(12)+protowire.SizeBytes(hopLen))
	out = append(out, raw...)
	out = protowire.AppendTag(out, 12, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(hopLen))
	out = protowire.AppendTag(out, 1, protowire.BytesType)
	out = protowire.AppendString(out, relay)
	out = protowire.AppendTag(out, 2, protowire.BytesType)
	return protowire.AppendBytes(out, ts)
}

// ExpiresAt reads expires_at from an encoded envelope without decoding the
// rest. It returns the zero time when the envelope has none.
func ExpiresAt(raw []byte) time.Time {
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return time.Time{}
		}
		raw = raw[n:]
		if num == 9 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(raw)
			if n < 0 {
				return time.Time{}
			}
			var ts timestamppb.Timestamp
			if proto.Unmarshal(v, &ts) != nil {
				return time.Time{}
			}
			return ts.AsTime()
		}
		n = protowire.ConsumeFieldValue(num, typ, raw)
		if n < 0 {
			return time.Time{}
		}
		raw = raw[n:]
	}
	return time.Time{}
}

// WantsReceipt reports whether an encoded envelope asks for a receipt of
// the given status (field 13, packed or not), without decoding the rest.
func WantsReceipt(raw []byte, status pb.ReceiptStatus) bool {
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return false
		}
		raw = raw[n:]
		if num == 13 {
			switch typ {
			case protowire.VarintType:
				v, n := protowire.ConsumeVarint(raw)
				if n < 0 {
					return false
				}
				if v == uint64(status) {
					return true
				}
				raw = raw[n:]
				continue
			case protowire.BytesType:
				packed, n := protowire.ConsumeBytes(raw)
				if n < 0 {
					return false
				}
				for len(packed) > 0 {
					v, m := protowire.ConsumeVarint(packed)
					if m < 0 {
						return false
					}
					if v == uint64(status) {
						return true
					}
					packed = packed[m:]
				}
				raw = raw[n:]
				continue
			}
		}
		n = protowire.ConsumeFieldValue(num, typ, raw)
		if n < 0 {
			return false
		}
		raw = raw[n:]
	}
	return false
}
