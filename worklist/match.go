package worklist

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
)

// Query is a parsed set of matching keys (QIDO-style: tag or keyword,
// optionally Sequence.Tag, equal to a value). It is the filter of a
// filtered global subscription and the keys of a search.
type Query struct {
	Keys []Key `json:"keys"`
}

// Key is one matching key.
type Key struct {
	Path  []string `json:"path"`
	Value string   `json:"value"`
}

// control parameters of a search, not matching keys.
var controlParams = map[string]bool{"includefield": true, "limit": true, "offset": true, "fuzzymatching": true}

// ParseQuery reads matching keys from URL parameters, skipping search
// control parameters.
func ParseQuery(v url.Values) (Query, error) {
	var q Query
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if controlParams[k] {
			continue
		}
		p, ok := resolvePath(k)
		if !ok {
			return q, badRequest("query key %q is not a known attribute keyword or tag (GGGGEEEE, or Sequence.Tag)", k)
		}
		if len(v[k]) != 1 {
			return q, badRequest("query key %q is given %d times; give it once", k, len(v[k]))
		}
		q.Keys = append(q.Keys, Key{Path: p, Value: v[k][0]})
	}
	return q, nil
}

// Matches reports whether the workitem matches every key.
func (q Query) Matches(ds Dataset) bool {
	for _, k := range q.Keys {
		if !k.matches(ds) {
			return false
		}
	}
	return true
}

func (k Key) matches(ds Dataset) bool {
	if k.Value == "" {
		return true // universal matching
	}
	a := ds[k.Path[0]]
	if a == nil {
		return false
	}
	if len(k.Path) == 2 {
		items, err := a.Items()
		if err != nil {
			return false
		}
		for _, it := range items {
			if (Key{Path: k.Path[1:], Value: k.Value}).matches(it) {
				return true
			}
		}
		return false
	}
	for _, v := range ds.Strs(k.Path[0]) {
		if matchValue(a.VR, k.Value, v) {
			return true
		}
	}
	return false
}

// matchValue applies single value, list (UI), wildcard and range
// matching (PS3.4 C.2.2.2).
func matchValue(vr, want, got string) bool {
	switch vr {
	case "UI":
		for _, w := range strings.Split(want, "\\") {
			if w == got {
				return true
			}
		}
		return false
	case "DA", "DT", "TM":
		if lo, hi, ok := strings.Cut(want, "-"); ok {
			return (lo == "" || got >= lo) && (hi == "" || got[:min(len(hi), len(got))] <= hi)
		}
		return got == want || strings.HasPrefix(got, want)
	case "PN":
		want, got = strings.ToUpper(want), strings.ToUpper(got)
	}
	if strings.ContainsAny(want, "*?") {
		ok, _ := path.Match(strings.ReplaceAll(want, "[", "\\["), got)
		return ok
	}
	return got == want
}

// String is the keys as text, for logs.
func (q Query) String() string {
	parts := make([]string, len(q.Keys))
	for i, k := range q.Keys {
		parts[i] = fmt.Sprintf("%s=%s", strings.Join(k.Path, "."), k.Value)
	}
	return strings.Join(parts, "&")
}
