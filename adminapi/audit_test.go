package adminapi

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// The hand-written encoder must decode to the same record as
// encoding/json's, for any strings a command or a reason may hold.
func TestAuditRecordJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 21, 8, 30, 0, 123456789, time.FixedZone("CST", 8*3600))
	for _, s := range []string{"consult.request", `quote " and \ backslash`, "tab\tnew\nline\x01", "中文 命令", ""} {
		rec := AuditRecord{ID: "01a1-x", From: "county-a/clinic-12", To: "main/" + s, Command: s, Kind: "KIND_COMMAND",
			Bytes: 1200, BodyBytes: 1024, Files: 2, FileBytes: 1 << 33, CreatedAt: at, RoutedAt: at.Add(time.Millisecond), Outcome: "dead: " + s}
		var got, want AuditRecord
		if err := json.Unmarshal(rec.AppendJSON(nil), &got); err != nil {
			t.Fatalf("%q: %v: %s", s, err, rec.AppendJSON(nil))
		}
		std, _ := json.Marshal(rec)
		json.Unmarshal(std, &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %+v, want %+v", s, got, want)
		}
	}
}

func FuzzAuditRecordJSON(f *testing.F) {
	f.Add("consult.request", "queued: child/county-b")
	f.Fuzz(func(t *testing.T, command, outcome string) {
		rec := AuditRecord{Command: command, Outcome: outcome}
		var std AuditRecord
		b, _ := json.Marshal(rec)
		json.Unmarshal(b, &std)
		var got AuditRecord
		if err := json.Unmarshal(rec.AppendJSON(nil), &got); err != nil {
			t.Fatalf("invalid JSON for %q, %q: %v", command, outcome, err)
		}
		if got.Command != std.Command || got.Outcome != std.Outcome {
			t.Fatalf("got %q %q, want %q %q", got.Command, got.Outcome, std.Command, std.Outcome)
		}
	})
}
