package relay

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/envelope"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func auditRecord(env *pb.Envelope, size int, now time.Time, outcome string) []byte {
	rec := adminapi.AuditRecord{
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
	return rec.AppendJSON(make([]byte, 0, 320))
}

// AuditQuery selects audit records. Empty fields match everything.
type AuditQuery struct {
	Since   time.Time
	From    string // relay/client, or relay/ for every client of a relay
	To      string
	Command string
	Limit   int
}

func (q *AuditQuery) match(rec *adminapi.AuditRecord) bool {
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
func (r *Relay) Audit(q AuditQuery) ([]adminapi.AuditRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 10000
	}
	var out []adminapi.AuditRecord
	var decodeErr error
	err := r.store.AuditSince(q.Since, func(_ time.Time, raw []byte) bool {
		var rec adminapi.AuditRecord
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
