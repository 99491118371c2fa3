// Package audit is main's audit log: the record main keeps of every
// envelope it routes (adminapi.AuditRecord, as JSON), the SHA-256 chain
// that makes the log tamper-evident and its check, queries by time,
// sender, target and command, and the audit events a shortcut node sends
// main instead of routing through it.
//
// The records live in the relay's bbolt file: package store appends them
// inside its transactions (Tx.Audit) and reads them back, with the chain
// this package defines. This package does not store or route.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/envelope"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Record encodes main's audit record of env: its size as routed, when,
// and the outcome ("queued: QUEUE", "dead: REASON", ...). It holds no
// arguments or body, which may hold patient data.
func Record(env *pb.Envelope, size int, now time.Time, outcome string) []byte {
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

// Chain returns the hash that links rec to the record before it, whose
// hash is prev (nil for the first): SHA-256(prev, rec). The log stores
// each record after its hash, so a record changed or removed afterwards
// breaks the chain.
func Chain(prev, rec []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(rec)
	return h.Sum(nil)
}

// HashSize is the length of Chain's hashes.
const HashSize = sha256.Size

// Query selects audit records. Empty fields match everything.
type Query struct {
	Since   time.Time
	From    string // relay/client, or relay/ for every client of a relay
	To      string
	Command string
	Limit   int
}

// ParseQuery reads a query from GET /v1/audit's parameters (since,
// from, to, command, limit); an error names the parameter and what would
// be right.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{From: v.Get("from"), To: v.Get("to"), Command: v.Get("command")}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("since %q is invalid: use RFC 3339, like 2026-01-02T15:04:05Z", s)
		}
		q.Since = t
	}
	for _, a := range []string{q.From, q.To} {
		if a != "" && strings.Contains(a, "/") && !strings.HasSuffix(a, "/") {
			if _, err := envelope.ParseAddress(a); err != nil {
				return q, err
			}
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return q, fmt.Errorf("limit %q is invalid: use a positive number", s)
		}
		q.Limit = n
	}
	return q, nil
}

// Match reports whether rec is one q selects.
func (q *Query) Match(rec *adminapi.AuditRecord) bool {
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

// Search calls since for the records at or after q.Since, oldest first
// (a store's AuditSince), and returns those q matches, at most q.Limit
// (default 10000). A stored record that is not readable (an older main
// kept child records unchecked) never fails the query: it is returned,
// when q filters on nothing but time, as a record with only its time
// and the outcome "unreadable audit record: ...", so that it stays
// visible.
func Search(since func(time.Time, func(at time.Time, rec []byte) bool) error, q Query) ([]adminapi.AuditRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 10000
	}
	var out []adminapi.AuditRecord
	err := since(q.Since, func(at time.Time, raw []byte) bool {
		var rec adminapi.AuditRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			rec = adminapi.AuditRecord{RoutedAt: at, Outcome: "unreadable audit record: " + err.Error()}
		}
		if q.Match(&rec) {
			out = append(out, rec)
		}
		return len(out) < q.Limit
	})
	return out, err
}

// Verify recomputes the chain over the stored records that log walks
// (hash, then record; a store's AuditLog), from the first, and checks that
// it ends at the head log returns.
func Verify(log func(fn func(at time.Time, stored []byte) bool) (head []byte, err error)) (adminapi.AuditCheck, error) {
	var res adminapi.AuditCheck
	var prev []byte
	broken := false
	head, err := log(func(at time.Time, v []byte) bool {
		if len(v) < HashSize {
			res.BrokenAt, res.Problem, broken = at, "record shorter than its hash", true
			return false
		}
		if !bytes.Equal(Chain(prev, v[HashSize:]), v[:HashSize]) {
			res.BrokenAt, res.Problem, broken = at, "record does not match its hash: changed, or one before it removed", true
			return false
		}
		prev = v[:HashSize]
		res.Records++
		return true
	})
	if err != nil || broken {
		return res, err
	}
	if !bytes.Equal(head, prev) {
		res.Problem = "the last record is not the chain's head: records at the end were removed"
		return res, nil
	}
	res.OK, res.Head = true, hex.EncodeToString(prev)
	return res, nil
}
