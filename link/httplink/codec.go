// Package httplink carries medrelay links over plain HTTP requests, for
// networks that break long connections: envelopes go up in POSTed
// batches answered once they are durably stored, and come down by long
// polls, each acknowledging what the previous one returned (a cursor), so
// a lost answer is simply fetched again. Bodies are protobuf
// (application/x-protobuf) or protojson (application/json), so any
// language with an HTTP client can join. docs/http-api.md shows every
// request with curl.
//
// The server side (Server, Session) plays the part of a link for the
// relay's routing core; the client side (Conn) plays it for the SDK and a
// node's uplink. The package neither routes nor stores nor authenticates:
// the relay decides through Server's Accept callback.
package httplink

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Content types of the HTTP link bodies.
const (
	TypeProtobuf = "application/x-protobuf"
	TypeJSON     = "application/json"
)

// Limits of the HTTP link.
const (
	// DefaultMaxBody bounds a request body (the link's frame limit is used
	// when larger).
	DefaultMaxBody = 4 << 20
	// DefaultMaxHello bounds the body that opens a session.
	DefaultMaxHello = 64 << 10
	// DefaultWait is how long a poll waits for envelopes by default.
	DefaultWait = 15_000
	// MaxWait bounds the wait a poller may ask for, in ms.
	MaxWait = 60_000
)

// ErrUnsupportedType reports a body that is neither protobuf nor JSON.
var ErrUnsupportedType = errors.New("unsupported content type: use application/x-protobuf or application/json")

// codec is one body encoding.
type codec struct {
	json bool
}

var (
	pbCodec   = codec{}
	jsonCodec = codec{json: true}
)

// requestCodec picks the codec of a request body. curl's default form type
// and a missing type count as JSON, so plain curl -d works.
func requestCodec(r *http.Request) (codec, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return jsonCodec, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return codec{}, ErrUnsupportedType
	}
	switch mt {
	case TypeProtobuf, "application/protobuf":
		return pbCodec, nil
	case TypeJSON, "application/x-www-form-urlencoded", "text/plain":
		return jsonCodec, nil
	}
	return codec{}, ErrUnsupportedType
}

// responseCodec follows the Accept header, else the request's codec.
func responseCodec(r *http.Request, req codec) codec {
	switch r.Header.Get("Accept") {
	case TypeProtobuf, "application/protobuf":
		return pbCodec
	case TypeJSON:
		return jsonCodec
	}
	return req
}

func (c codec) contentType() string {
	if c.json {
		return TypeJSON
	}
	return TypeProtobuf
}

func (c codec) unmarshal(b []byte, m proto.Message) error {
	if c.json {
		return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
	}
	return proto.Unmarshal(b, m)
}

func (c codec) marshal(m proto.Message) ([]byte, error) {
	if c.json {
		return protojson.Marshal(m)
	}
	return proto.Marshal(m)
}

// readBody reads at most limit bytes of a body.
func readBody(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("body larger than %d bytes", limit)
	}
	return b, nil
}

// DecodePush returns the encoded envelopes of a Push body. Protobuf
// envelopes are taken as they are (a Push is wire-identical to repeated
// bytes); JSON ones are converted.
func DecodePush(b []byte, asJSON bool) ([][]byte, error) {
	if !asJSON {
		return repeatedBytes(b, 1)
	}
	var p pb.Push
	if err := jsonCodec.unmarshal(b, &p); err != nil {
		return nil, err
	}
	out := make([][]byte, len(p.Envelopes))
	for i, e := range p.Envelopes {
		raw, err := proto.Marshal(e)
		if err != nil {
			return nil, err
		}
		out[i] = raw
	}
	return out, nil
}

// EncodePush makes a protobuf Push body of encoded envelopes.
func EncodePush(envs [][]byte) []byte {
	return appendRepeated(nil, 1, envs)
}

// EncodePollResult makes a PollResult body.
func EncodePollResult(cursor uint64, envs [][]byte, asJSON bool) ([]byte, error) {
	if !asJSON {
		b := protowire.AppendTag(nil, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, cursor)
		return appendRepeated(b, 2, envs), nil
	}
	res := &pb.PollResult{Cursor: cursor, Envelopes: make([]*pb.Envelope, len(envs))}
	for i, raw := range envs {
		e := &pb.Envelope{}
		if err := proto.Unmarshal(raw, e); err != nil {
			return nil, err
		}
		res.Envelopes[i] = e
	}
	return protojson.Marshal(res)
}

// DecodePollResult returns the cursor and encoded envelopes of a protobuf
// PollResult body.
func DecodePollResult(b []byte) (uint64, [][]byte, error) {
	var cursor uint64
	var envs [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, nil, protowire.ParseError(n)
			}
			cursor, b = v, b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, nil, protowire.ParseError(n)
			}
			envs, b = append(envs, v), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, nil, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return cursor, envs, nil
}

// repeatedBytes returns the values of field num (bytes) of a message,
// skipping other fields.
func repeatedBytes(b []byte, num protowire.Number) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, protowire.ParseError(l)
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return nil, protowire.ParseError(l)
			}
			out, b = append(out, v), b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return nil, protowire.ParseError(l)
		}
		b = b[l:]
	}
	return out, nil
}

func appendRepeated(b []byte, num protowire.Number, vals [][]byte) []byte {
	for _, v := range vals {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	return b
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", TypeJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Error: msg})
}

func writeMsg(w http.ResponseWriter, c codec, m proto.Message) {
	b, err := c.marshal(m)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, c, b)
}

func writeBody(w http.ResponseWriter, c codec, b []byte) {
	w.Header().Set("Content-Type", c.contentType())
	w.Write(b)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
