package adminapi

import (
	"testing"

	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// TestWriteFuzzSeeds writes the commands and outcomes main's audit log
// records (see relay/route.go and internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	for name, s := range map[string][2]string{
		"queued-child":  {"consult.request", "queued: child/county-b"},
		"queued-client": {"study.ready", "queued: client/radiology"},
		"dead":          {"consult.report", `dead: no route to relay "county-z"`},
		"receipt":       {"", "queued: child/county-a"},
	} {
		fuzzseed.Write(t, "FuzzAuditRecordJSON", name, s[0], s[1])
	}
}
