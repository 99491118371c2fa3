package worklist

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"regexp"

	"github.com/google/uuid"
)

var validUID = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)

// ValidUID reports whether s is a DICOM UID (digits and dots, at most 64).
func ValidUID(s string) bool { return len(s) <= 64 && validUID.MatchString(s) }

// NewUID makes a UID under 2.25 from a random UUID (PS3.5 B.2).
func NewUID() string {
	u := uuid.New()
	return "2.25." + new(big.Int).SetBytes(u[:]).String()
}

// States of a UPS.
const (
	Scheduled  = "SCHEDULED"
	InProgress = "IN PROGRESS"
	Completed  = "COMPLETED"
	Canceled   = "CANCELED"
)

// Event types of N-EVENT-REPORT for UPS (PS3.4 CC.2.4).
const (
	EventStateReport     = 1
	EventCancelRequested = 2
	EventProgressReport  = 3
	EventSCPStatusChange = 4
	EventAssigned        = 5
)

// Create stores a new SCHEDULED workitem (the UPS Push N-CREATE). uid may
// be "" when the dataset carries its SOP Instance UID, or to have one
// made. It returns the workitem's UID.
func (s *Service) Create(uid string, ds Dataset) (string, error) {
	if body := ds.Str(tagSOPInstanceUID); body != "" {
		if uid != "" && uid != body {
			return "", badRequest("SOP Instance UID (0008,0018) %s differs from the workitem UID %s in the URL", body, uid)
		}
		uid = body
	}
	if uid == "" {
		uid = NewUID()
	}
	if !ValidUID(uid) {
		return "", badRequest("workitem UID %q is not a UID (digits and dots, at most 64)", uid)
	}
	if st := ds.Str(tagProcedureStepState); st != Scheduled {
		return "", refuse(StatusOnlyCreateSchedules, http.StatusBadRequest,
			"Procedure Step State (0074,1000) is %q; a workitem is created SCHEDULED", st)
	}
	if _, ok := ds[tagTransactionUID]; ok {
		return "", badRequest("Transaction UID (0008,1195) must not be present when creating a workitem")
	}
	ds = ds.Clone()
	ds.SetStr(tagSOPClassUID, "UI", UPSPushSOPClass)
	ds.SetStr(tagSOPInstanceUID, "UI", uid)
	if ds.Str(tagPriority) == "" {
		ds.SetStr(tagPriority, "CS", "MEDIUM")
	}
	if ds.Str(tagInputReadiness) == "" {
		ds.SetStr(tagInputReadiness, "CS", "READY")
	}
	err := s.update(func(t *txn) error {
		if w, err := t.workitem(uid); err != nil || w != nil {
			if err == nil {
				err = refuse(StatusDuplicateInstance, http.StatusConflict, "workitem %s already exists", uid)
			}
			return err
		}
		if err := t.putWorkitem(uid, &workitem{DS: ds}); err != nil {
			return err
		}
		gs, err := t.globals()
		if err != nil {
			return err
		}
		for ae, g := range gs {
			if g.wants(ds) {
				if err := putJSON(t.Bucket(bWsubs), wsubKey(uid, ae), wsub{Lock: g.Lock}); err != nil {
					return err
				}
			}
		}
		if err := t.emit(uid, EventStateReport, false, stateReport(ds)); err != nil {
			return err
		}
		if assigned := pick(ds, tagHumanPerformers, tagStationNameCodes); len(assigned) > 0 {
			return t.emit(uid, EventAssigned, false, assigned)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	s.log.Info("workitem created", "workitem", uid)
	return uid, nil
}

// stateReport is the attributes of a UPS State Report.
func stateReport(ds Dataset) Dataset {
	out := Dataset{}
	out.SetStr(tagProcedureStepState, "CS", ds.Str(tagProcedureStepState))
	out.SetStr(tagInputReadiness, "CS", ds.Str(tagInputReadiness))
	return out
}

// Get returns a workitem without its Transaction UID (N-GET, Retrieve).
func (s *Service) Get(uid string) (Dataset, error) {
	var ds Dataset
	err := s.view(func(t *txn) error {
		w, err := t.workitem(uid)
		if err == nil && w == nil {
			err = notFound(uid)
		}
		if err == nil {
			ds = w.DS
		}
		return err
	})
	return ds, err
}

// notUpdatable are attributes an update may not carry.
var notUpdatable = map[string]string{
	tagProcedureStepState: "Procedure Step State (0074,1000) changes only through the state resource",
	tagTransactionUID:     "Transaction UID (0008,1195) goes in the URL (?transaction=UID), not the body",
	tagSOPInstanceUID:     "SOP Instance UID (0008,0018) cannot change",
	tagSOPClassUID:        "SOP Class UID (0008,0016) cannot change",
}

// Update sets attributes of a workitem (N-SET). A SCHEDULED workitem is
// updated without a Transaction UID; an IN PROGRESS one only with its
// owner's; a final one not at all.
func (s *Service) Update(uid, txUID string, changes Dataset) error {
	for tag, why := range notUpdatable {
		if _, ok := changes[tag]; ok {
			return badRequest("%s", why)
		}
	}
	return s.update(func(t *txn) error {
		w, err := t.workitem(uid)
		if err != nil {
			return err
		}
		if w == nil {
			return notFound(uid)
		}
		switch st := w.state(); {
		case st == Completed || st == Canceled:
			return refuse(StatusMayNoLongerBeUpdated, http.StatusBadRequest, "workitem %s is %s and may no longer be updated", uid, st)
		case st == Scheduled && txUID != "":
			return refuse(StatusWrongTransactionUID, http.StatusBadRequest, "workitem %s is SCHEDULED: update it without a Transaction UID", uid)
		case st == InProgress && txUID != w.TxUID:
			return refuse(StatusWrongTransactionUID, http.StatusBadRequest, "workitem %s is IN PROGRESS: the Transaction UID given is not its owner's", uid)
		}
		before := w.DS
		w.DS = w.DS.Clone()
		for tag, a := range changes {
			w.DS[tag] = a
		}
		if err := t.putWorkitem(uid, w); err != nil {
			return err
		}
		if changed(before, w.DS, tagProgressInfo) {
			if err := t.emit(uid, EventProgressReport, false, pick(w.DS, tagProgressInfo)); err != nil {
				return err
			}
		}
		if changed(before, w.DS, tagHumanPerformers) || changed(before, w.DS, tagStationNameCodes) {
			if err := t.emit(uid, EventAssigned, false, pick(w.DS, tagHumanPerformers, tagStationNameCodes)); err != nil {
				return err
			}
		}
		return t.subscribeNewMatches(uid, w.DS)
	})
}

// subscribeNewMatches subscribes the filtered global subscribers that an
// update made match, and sends each the workitem's state.
func (t *txn) subscribeNewMatches(uid string, ds Dataset) error {
	gs, err := t.globals()
	if err != nil {
		return err
	}
	subs, err := t.subscribers(uid)
	if err != nil {
		return err
	}
	for ae, g := range gs {
		if _, ok := subs[ae]; ok || !g.wants(ds) {
			continue
		}
		if err := putJSON(t.Bucket(bWsubs), wsubKey(uid, ae), wsub{Lock: g.Lock}); err != nil {
			return err
		}
		if err := t.queue(ae, uid, EventStateReport, false, stateReport(ds)); err != nil {
			return err
		}
	}
	return nil
}

func changed(a, b Dataset, tag string) bool {
	x, _ := json.Marshal(a[tag])
	y, _ := json.Marshal(b[tag])
	return string(x) != string(y)
}

func pick(ds Dataset, tags ...string) Dataset {
	out := Dataset{}
	for _, t := range tags {
		if a, ok := ds[t]; ok {
			out[t] = a
		}
	}
	return out
}

// SearchResult is one page of a search.
type SearchResult struct {
	Matches []Dataset
	More    int // matches after this page
}

// Search returns the workitems matching q, in UID order, offset and limit
// applied; each holds the default return attributes, the keys and the
// included ones (all of them with includeAll).
func (s *Service) Search(q Query, include []string, includeAll bool, offset, limit int) (SearchResult, error) {
	var r SearchResult
	n := 0
	err := s.view(func(t *txn) error {
		return t.Bucket(bWorkitems).ForEach(func(k, v []byte) error {
			var w workitem
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("decode workitem %s: %w", k, err)
			}
			if !q.Matches(w.DS) {
				return nil
			}
			n++
			switch {
			case n <= offset:
			case len(r.Matches) >= limit:
				r.More++
			default:
				r.Matches = append(r.Matches, project(w.DS, q, include, includeAll))
			}
			return nil
		})
	})
	return r, err
}

func project(ds Dataset, q Query, include []string, all bool) Dataset {
	if all {
		return ds
	}
	out := pick(ds, defaultReturn...)
	for _, k := range q.Keys {
		if a, ok := ds[k.Path[0]]; ok {
			out[k.Path[0]] = a
		}
	}
	for _, t := range include {
		if a, ok := ds[t]; ok {
			out[t] = a
		}
	}
	return out
}
