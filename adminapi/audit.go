package adminapi

import (
	"strconv"
	"time"
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

// AuditCheck is what an audit verification found (GET /v1/audit/verify).
type AuditCheck struct {
	// Records is how many records were checked.
	Records int `json:"records"`
	// Head is the hash of the last record: note it down, and a later
	// check proves that nothing up to it was changed.
	Head string `json:"head"`
	// OK is false when a record does not match the chain.
	OK bool `json:"ok"`
	// BrokenAt is the time of the first record that does not match.
	BrokenAt time.Time `json:"broken_at,omitzero"`
	// Problem says what does not match.
	Problem string `json:"problem,omitempty"`
}

// AppendJSON appends rec encoded as encoding/json would encode it,, without reflection: main
// writes one record per envelope it routes.
func (rec *AuditRecord) AppendJSON(b []byte) []byte {
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
