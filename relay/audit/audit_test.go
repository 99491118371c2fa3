package audit

import (
	"net/url"
	"strings"
	"testing"

	"github.com/medrelay/medrelay/adminapi"
)

func TestParseQueryNamesTheBadParameter(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"since=yesterday", "since"},
		{"limit=-3", "limit"},
		{"from=County-A/x", "County-A/x"},
	} {
		v, _ := url.ParseQuery(tc.query)
		if _, err := ParseQuery(v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", tc.query, err, tc.want)
		}
	}
}

func TestQueryMatch(t *testing.T) {
	rec := &adminapi.AuditRecord{From: "county-a/clinic-12", To: "county-b/radiology", Command: "consult.request"}
	for _, tc := range []struct {
		name string
		q    Query
		want bool
	}{
		{"empty matches all", Query{}, true},
		{"exact sender", Query{From: "county-a/clinic-12"}, true},
		{"every client of a relay", Query{From: "county-a"}, true},
		{"relay with slash", Query{To: "county-b/"}, true},
		{"other relay", Query{From: "county-b"}, false},
		{"relay name prefix is not a match", Query{From: "county"}, false},
		{"other command", Query{Command: "study.ready"}, false},
	} {
		if got := tc.q.Match(rec); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
