package dimse

import "fmt"

// Status is a DIMSE status code (0000,0900).
type Status uint16

// Statuses used by the services here (PS3.7 annex C, PS3.4).
const (
	StatusSuccess              Status = 0x0000
	StatusCancel               Status = 0xFE00
	StatusPending              Status = 0xFF00
	StatusPendingWarning       Status = 0xFF01
	StatusSOPClassNotSupported Status = 0x0122
	StatusOutOfResources       Status = 0xA700
	StatusMoveOutOfResources   Status = 0xA701
	StatusMoveAllFailed        Status = 0xA702
	StatusMoveDestUnknown      Status = 0xA801
	StatusDataSetMismatch      Status = 0xA900
	StatusCannotUnderstand     Status = 0xC000
	StatusProcessingFailure    Status = 0x0110
	StatusSubOpsFailed         Status = 0xB000
	StatusCoercion             Status = 0xB000 // C-STORE warning: coercion of data elements
)

// Category is the broad class of a status.
type Category int

// Status categories.
const (
	Success Category = iota
	Warning
	Failure
	Cancel
	Pending
)

// Category classifies s.
func (s Status) Category() Category {
	switch {
	case s == StatusSuccess:
		return Success
	case s == StatusCancel:
		return Cancel
	case s == StatusPending || s == StatusPendingWarning:
		return Pending
	case s == 0x0001 || s&0xF000 == 0xB000 || s == 0x0107 || s == 0x0116:
		return Warning
	}
	return Failure
}

func (s Status) String() string {
	names := map[Category]string{Success: "success", Warning: "warning", Failure: "failure", Cancel: "cancel", Pending: "pending"}
	return fmt.Sprintf("%04X (%s)", uint16(s), names[s.Category()])
}

// StatusError is a response status reported as an error.
type StatusError struct {
	Op      string
	Status  Status
	Comment string
}

func (e *StatusError) Error() string {
	if e.Comment != "" {
		return fmt.Sprintf("%s: status %v: %s", e.Op, e.Status, e.Comment)
	}
	return fmt.Sprintf("%s: status %v", e.Op, e.Status)
}
