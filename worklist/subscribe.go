package worklist

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ValidAE reports whether s is an AE title (1–16 characters, no
// backslash or control characters, not only spaces).
func ValidAE(s string) bool {
	if strings.TrimSpace(s) == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == '\\' || r > 0x7e {
			return false
		}
	}
	return true
}

// Subscribe subscribes ae to one workitem, to all (GlobalSubscriber), or
// to those matching filter (FilteredGlobal). A global subscription
// subscribes ae to every existing workitem at once and to each new one as
// it is created. The subscriber gets each workitem's current state first.
func (s *Service) Subscribe(uid, ae string, lock bool, filter *Query) error {
	if !ValidAE(ae) {
		return badRequest("AE title %q is invalid: 1 to 16 characters, no backslash", ae)
	}
	return s.addSubscription(uid, ae, lock, filter)
}

// addSubscription is Subscribe for any subscriber key (an AE title, or a relay
// address behind relayPrefix).
func (s *Service) addSubscription(uid, ae string, lock bool, filter *Query) error {
	return s.update(func(t *txn) error {
		if uid != GlobalSubscriber && uid != FilteredGlobal {
			w, err := t.workitem(uid)
			if err != nil {
				return err
			}
			if w == nil {
				return notFound(uid)
			}
			if err := putJSON(t.Bucket(bWsubs), wsubKey(uid, ae), wsub{Lock: lock}); err != nil {
				return err
			}
			return t.queue(ae, uid, EventStateReport, w.state() == Completed || w.state() == Canceled, stateReport(w.DS))
		}
		g := global{Lock: lock}
		if uid == FilteredGlobal {
			g.Filter = filter
			if g.Filter == nil {
				g.Filter = &Query{}
			}
		}
		if err := putJSON(t.Bucket(bGlobals), []byte(ae), g); err != nil {
			return err
		}
		return t.Bucket(bWorkitems).ForEach(func(k, v []byte) error {
			var w workitem
			if err := json.Unmarshal(v, &w); err != nil {
				return err
			}
			st := w.state()
			if st == Completed || st == Canceled || !g.wants(w.DS) {
				return nil
			}
			if err := putJSON(t.Bucket(bWsubs), wsubKey(string(k), ae), wsub{Lock: lock}); err != nil {
				return err
			}
			return t.queue(ae, string(k), EventStateReport, false, stateReport(w.DS))
		})
	})
}

// Unsubscribe ends ae's subscription to one workitem, or, for the global
// instances, its global subscription and every per-workitem one.
func (s *Service) Unsubscribe(uid, ae string) error {
	return s.update(func(t *txn) error {
		subs := t.Bucket(bWsubs)
		if uid != GlobalSubscriber && uid != FilteredGlobal {
			if w, err := t.workitem(uid); err != nil || w == nil {
				if err == nil {
					err = notFound(uid)
				}
				return err
			}
			return subs.Delete(wsubKey(uid, ae))
		}
		if err := t.Bucket(bGlobals).Delete([]byte(ae)); err != nil {
			return err
		}
		var drop [][]byte
		suffix := "\x00" + ae
		subs.ForEach(func(k, _ []byte) error {
			if strings.HasSuffix(string(k), suffix) {
				drop = append(drop, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range drop {
			if err := subs.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Suspend stops ae's global subscription from subscribing it to new
// workitems; its existing per-workitem subscriptions stay.
func (s *Service) Suspend(ae string) error {
	return s.update(func(t *txn) error {
		var g global
		ok, err := getJSON(t.Bucket(bGlobals), []byte(ae), &g)
		if err != nil {
			return err
		}
		if !ok {
			return refuse(StatusInvalidAttributeValue, http.StatusNotFound, "%s has no global subscription to suspend", ae)
		}
		g.Suspended = true
		return putJSON(t.Bucket(bGlobals), []byte(ae), g)
	})
}
