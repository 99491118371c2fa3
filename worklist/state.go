package worklist

import (
	"net/http"
)

// ChangeState moves a workitem to IN PROGRESS (a claim: the first one
// commits, later ones fail with 409), COMPLETED or CANCELED (only with the
// claim's Transaction UID). Asking for the state the workitem is already
// in returns a warning, not an error.
func (s *Service) ChangeState(uid, state, txUID string) (*Warning, error) {
	if !ValidUID(txUID) {
		return nil, refuse(StatusWrongTransactionUID, http.StatusBadRequest,
			"Transaction UID (0008,1195) is missing or not a UID; a change of state needs one")
	}
	var warn *Warning
	err := s.update(func(t *txn) error {
		w, err := t.workitem(uid)
		if err != nil {
			return err
		}
		if w == nil {
			return notFound(uid)
		}
		warn, err = transition(w, uid, state, txUID)
		if err != nil || warn != nil {
			return err
		}
		w.DS = w.DS.Clone()
		w.DS.SetStr(tagProcedureStepState, "CS", state)
		final := state != InProgress
		if final {
			w.Final = t.now
		} else {
			w.TxUID = txUID
		}
		if err := t.putWorkitem(uid, w); err != nil {
			return err
		}
		return t.emit(uid, EventStateReport, final, stateReport(w.DS))
	})
	if err == nil && warn == nil {
		s.log.Info("workitem state changed", "workitem", uid, "state", state)
	}
	return warn, err
}

// transition applies the rules of PS3.4 CC.1.1 and CC.2.1.3 to one
// requested change.
func transition(w *workitem, uid, want, txUID string) (*Warning, error) {
	cur := w.state()
	switch want {
	case InProgress:
		switch cur {
		case Scheduled:
			return nil, nil
		case InProgress:
			return nil, refuse(StatusAlreadyInProgress, http.StatusConflict, "workitem %s is already IN PROGRESS (claimed by another performer)", uid)
		default:
			return nil, refuse(StatusMayNoLongerBeUpdated, http.StatusConflict, "workitem %s is %s and may no longer be updated", uid, cur)
		}
	case Completed, Canceled:
		switch cur {
		case Scheduled:
			return nil, refuse(StatusNotYetInProgress, http.StatusConflict,
				"workitem %s is SCHEDULED: claim it (IN PROGRESS) first, or request its cancellation", uid)
		case want:
			if txUID != w.TxUID {
				return nil, refuse(StatusWrongTransactionUID, http.StatusBadRequest, "the Transaction UID given is not the owner's of workitem %s", uid)
			}
			code := uint16(StatusAlreadyCompleted)
			if want == Canceled {
				code = StatusAlreadyCanceled
			}
			return &Warning{Status: code, Comment: "The UPS is already in the requested state of " + want}, nil
		case Completed, Canceled:
			return nil, refuse(StatusMayNoLongerBeUpdated, http.StatusConflict, "workitem %s is %s and may no longer be updated", uid, cur)
		}
		if txUID != w.TxUID {
			return nil, refuse(StatusWrongTransactionUID, http.StatusBadRequest, "the Transaction UID given is not the owner's of workitem %s", uid)
		}
		if want == Completed {
			return nil, finalStateMet(w.DS, uid)
		}
		return nil, nil
	case Scheduled:
		return nil, refuse(StatusOnlyCreateSchedules, http.StatusConflict, "a workitem becomes SCHEDULED only when it is created")
	}
	return nil, badRequest("Procedure Step State %q is not IN PROGRESS, COMPLETED or CANCELED", want)
}

// finalStateMet checks the final state requirements for COMPLETED that
// this worklist enforces (PS3.4 Table CC.2.5-3, "Final State" column): a
// Unified Procedure Step Performed Procedure Sequence item with the
// performed start and end date-times.
func finalStateMet(ds Dataset, uid string) error {
	a := ds[tagPerformedProcedure]
	var items []Dataset
	if a != nil {
		items, _ = a.Items()
	}
	if len(items) == 0 || items[0].Str(tagPPSStartDateTime) == "" || items[0].Str(tagPPSEndDateTime) == "" {
		return refuse(StatusFinalStateNotMet, http.StatusConflict,
			"workitem %s cannot be COMPLETED: set Unified Procedure Step Performed Procedure Sequence (0074,1216) with Performed Procedure Step Start DateTime (0040,4050) and End DateTime (0040,4051) first (an update with the Transaction UID)", uid)
	}
	return nil
}

// RequestCancel asks for a workitem's cancellation (UPS Push N-ACTION 2).
// A SCHEDULED workitem is canceled at once; for an IN PROGRESS one the
// subscribers (the performer among them) get a Cancel Requested event.
func (s *Service) RequestCancel(uid string, info Dataset) (*Warning, error) {
	var warn *Warning
	err := s.update(func(t *txn) error {
		w, err := t.workitem(uid)
		if err != nil {
			return err
		}
		if w == nil {
			return notFound(uid)
		}
		switch w.state() {
		case Canceled:
			warn = &Warning{Status: StatusAlreadyCanceled, Comment: "The UPS is already in the requested state of CANCELED"}
			return nil
		case Completed:
			return refuse(StatusAlreadyCompletedFail, http.StatusConflict, "workitem %s is already COMPLETED", uid)
		case InProgress:
			return t.emit(uid, EventCancelRequested, false, pick(info, tagReasonForCancel, tagRequestingAE, "0074100A", "0074100C", "0074100E"))
		}
		w.DS = w.DS.Clone()
		w.DS.SetStr(tagProcedureStepState, "CS", Canceled)
		w.Final = t.now
		if err := t.putWorkitem(uid, w); err != nil {
			return err
		}
		return t.emit(uid, EventStateReport, true, stateReport(w.DS))
	})
	return warn, err
}
