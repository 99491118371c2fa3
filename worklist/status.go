package worklist

import (
	"fmt"
	"net/http"
)

// DIMSE statuses of UPS operations (PS3.4 CC.2, PS3.7 C).
const (
	StatusDeletionLockNotGranted = 0xB301
	StatusAlreadyCanceled        = 0xB304
	StatusAlreadyCompleted       = 0xB306
	StatusMayNoLongerBeUpdated   = 0xC300
	StatusWrongTransactionUID    = 0xC301
	StatusAlreadyInProgress      = 0xC302
	StatusOnlyCreateSchedules    = 0xC303
	StatusFinalStateNotMet       = 0xC304
	StatusNoSuchWorkitem         = 0xC307
	StatusNotYetInProgress       = 0xC310
	StatusAlreadyCompletedFail   = 0xC311
	StatusDuplicateInstance      = 0x0111
	StatusInvalidAttributeValue  = 0x0106
	StatusMissingAttribute       = 0x0120
)

// Error is a refused request: the DIMSE status, the HTTP status UPS-RS
// maps it to, and an error comment saying what was wrong.
type Error struct {
	Status  uint16
	HTTP    int
	Comment string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (status %04X)", e.Comment, e.Status) }

func refuse(status uint16, code int, format string, a ...any) *Error {
	return &Error{Status: status, HTTP: code, Comment: fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) *Error {
	return refuse(StatusInvalidAttributeValue, http.StatusBadRequest, format, a...)
}

func notFound(uid string) *Error {
	return refuse(StatusNoSuchWorkitem, http.StatusNotFound, "workitem %s does not exist on this worklist", uid)
}

// Warning is a success with a warning status (answered 200 or 202 with a
// Warning header).
type Warning struct {
	Status  uint16
	Comment string
}
