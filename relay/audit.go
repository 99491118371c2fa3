package relay

import (
	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/relay/audit"
)

// Audit returns main's audit records that match q, oldest first.
func (r *Relay) Audit(q audit.Query) ([]adminapi.AuditRecord, error) {
	return audit.Search(r.store.AuditSince, q)
}
