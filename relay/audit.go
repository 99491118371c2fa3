package relay

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/medrelay/medrelay/relay/envelope"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// AuditRecord is what main records about every envelope it routes.
type AuditRecord struct {
	ID        string    `json:"id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Command   string    `json:"command"`
	Kind      string    `json:"kind"`
	Bytes     int       `json:"bytes"`
	BodyBytes int       `json:"body_bytes"`
	Files     int       `json:"files"`
	FileBytes int64     `json:"file_bytes"`
	CreatedAt time.Time `json:"created_at"`
	RoutedAt  time.Time `json:"routed_at"`
	Outcome   string    `json:"outcome"`
}

func auditRecord(env *pb.Envelope, size int, now time.Time, outcome string) []byte {
	rec := AuditRecord{
		ID:        env.Id,
		From:      envelope.FormatAddress(env.From),
		To:        envelope.FormatAddress(env.To),
		Command:   env.Command,
		Kind:      env.Kind.String(),
		Bytes:     size,
		BodyBytes: len(env.Body),
		Files:     len(env.Files),
		RoutedAt:  now,
		Outcome:   outcome,
	}
	for _, f := range env.Files {
		rec.FileBytes += f.Size
	}
	if t, err := envelope.IDTime(env.Id); err == nil {
		rec.CreatedAt = t
	}
	if env.CreatedAt != nil {
		rec.CreatedAt = env.CreatedAt.AsTime()
	}
	return rec.appendJSON(make([]byte, 0, 320))
}

// appendJSON encodes rec as encoding/json would, without reflection: main
// writes one record per envelope it routes.
func (rec *AuditRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, rec.ID)
	b = append(b, `,"from":`...)
	b = appendJSONString(b, rec.From)
	b = append(b, `,"to":`...)
	b = appendJSONString(b, rec.To)
	b = append(b, `,"command":`...)
	b = appendJSONString(b, rec.Command)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, rec.Kind)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(rec.Bytes), 10)
	b = append(b, `,"body_bytes":`...)
	b = strconv.AppendInt(b, int64(rec.BodyBytes), 10)
	b = append(b, `,"files":`...)
	b = strconv.AppendInt(b, int64(rec.Files), 10)
	b = append(b, `,"file_bytes":`...)
	b = strconv.AppendInt(b, rec.FileBytes, 10)
	b = append(b, `,"created_at":"`...)
	b = rec.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","routed_at":"`...)
	b = rec.RoutedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","outcome":`...)
	b = appendJSONString(b, rec.Outcome)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Proto strings are valid
// UTF-8, so only quotes, backslashes and control characters need escaping.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// AuditQuery selects audit records. Empty fields match everything.
type AuditQuery struct {
	Since   time.Time
	From    string // relay/client, or relay/ for every client of a relay
	To      string
	Command string
	Limit   int
}

func (q *AuditQuery) match(rec *AuditRecord) bool {
	return addrMatch(q.From, rec.From) && addrMatch(q.To, rec.To) && (q.Command == "" || q.Command == rec.Command)
}

func addrMatch(want, got string) bool {
	if want == "" || want == got {
		return true
	}
	// "county-a" or "county-a/" matches every client of county-a.
	if !strings.Contains(want, "/") {
		want += "/"
	}
	return strings.HasSuffix(want, "/") && strings.HasPrefix(got, want)
}

// Audit returns the audit records that match q, oldest first.
func (r *Relay) Audit(q AuditQuery) ([]AuditRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 10000
	}
	var out []AuditRecord
	var decodeErr error
	err := r.store.AuditSince(q.Since, func(_ time.Time, raw []byte) bool {
		var rec AuditRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			decodeErr = err
			return false
		}
		if q.match(&rec) {
			out = append(out, rec)
		}
		return len(out) < q.Limit
	})
	if err == nil {
		err = decodeErr
	}
	return out, err
}
