package audit

import (
	"net/url"
	"strings"
	"testing"
	"time"

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

// A record that is not readable (kept unchecked by an older main) never
// fails a query: it shows as unreadable, and filtered queries skip it.
func TestSearchSurvivesAnUnreadableRecord(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	good := []byte(`{"id":"a","from":"county-a/x","to":"main/y","command":"c"}`)
	since := func(_ time.Time, fn func(time.Time, []byte) bool) error {
		for _, r := range [][]byte{[]byte("not json"), good} {
			if !fn(at, r) {
				break
			}
		}
		return nil
	}
	recs, err := Search(since, Query{})
	if err != nil || len(recs) != 2 || !strings.HasPrefix(recs[0].Outcome, "unreadable audit record") || !recs[0].RoutedAt.Equal(at) || recs[1].ID != "a" {
		t.Errorf("Search = %+v, %v; want the unreadable record shown, then the good one", recs, err)
	}
	recs, err = Search(since, Query{From: "county-a/x"})
	if err != nil || len(recs) != 1 || recs[0].ID != "a" {
		t.Errorf("Search from county-a/x = %+v, %v; want the good record", recs, err)
	}
}
