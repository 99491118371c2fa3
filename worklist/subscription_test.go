package worklist_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const global = "/workitems/1.2.840.10008.5.1.4.34.5/subscribers/"
const filtered = "/workitems/1.2.840.10008.5.1.4.34.5.1/subscribers/"

// The bug the issue names: a global subscription must reach workitems
// created after it.
func TestGlobalSubscriptionReachesLaterWorkitems(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", global+"EXPERT1", "")
	l := s.listen("EXPERT1")
	s.must(http.StatusCreated, "POST", "/workitems?1.2.10", workitemJSON("county-b"))
	l.expect("1.2.10", "1", "SCHEDULED")

	// The whole flow reaches the subscriber: claim, progress, completion.
	s.must(http.StatusOK, "PUT", "/workitems/1.2.10/state", stateJSON("IN PROGRESS", "2.25.77"))
	l.expect("1.2.10", "1", "IN PROGRESS")
	s.must(http.StatusOK, "POST", "/workitems/1.2.10?2.25.77",
		`{"00741002":{"vr":"SQ","Value":[{"00741004":{"vr":"DS","Value":[50]}}]}}`)
	l.expect("1.2.10", "3", "")
	s.must(http.StatusOK, "POST", "/workitems/1.2.10?2.25.77", performed)
	s.must(http.StatusOK, "PUT", "/workitems/1.2.10/state", stateJSON("COMPLETED", "2.25.77"))
	l.expect("1.2.10", "1", "COMPLETED")
}

func TestSubscribeToExistingWorkitemsAndCancel(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", "/workitems?1.2.20", workitemJSON("county-b"))
	s.must(http.StatusCreated, "POST", "/workitems?1.2.21", workitemJSON("county-b"))
	s.must(http.StatusCreated, "POST", global+"EXPERT2?deletionlock=true", "")
	s.must(http.StatusCreated, "POST", "/workitems/1.2.21/subscribers/CLINIC", "")
	l := s.listen("EXPERT2")
	l.expect("1.2.20", "1", "SCHEDULED")
	l.expect("1.2.21", "1", "SCHEDULED")
	c := s.listen("CLINIC")
	c.expect("1.2.21", "1", "SCHEDULED")

	// A SCHEDULED workitem is canceled at once; an IN PROGRESS one gets a
	// Cancel Requested event for its performer to act on.
	s.must(http.StatusAccepted, "POST", "/workitems/1.2.20/cancelrequest", "")
	l.expect("1.2.20", "1", "CANCELED")
	r := s.must(http.StatusAccepted, "POST", "/workitems/1.2.20/cancelrequest", "")
	if r.warning == "" {
		t.Errorf("cancel of a canceled workitem: no Warning header")
	}
	s.must(http.StatusOK, "PUT", "/workitems/1.2.21/state", stateJSON("IN PROGRESS", "2.25.5"))
	l.expect("1.2.21", "1", "IN PROGRESS")
	c.expect("1.2.21", "1", "IN PROGRESS")
	s.must(http.StatusAccepted, "POST", "/workitems/1.2.21/cancelrequest",
		`{"00741238":{"vr":"LT","Value":["patient left"]},"00741236":{"vr":"AE","Value":["CLINIC"]}}`)
	ev := l.expect("1.2.21", "2", "")
	if attr(ev, "00741238") != "patient left" {
		t.Errorf("Cancel Requested lacks the reason: %v", ev)
	}
	s.must(http.StatusOK, "PUT", "/workitems/1.2.21/state", stateJSON("CANCELED", "2.25.5"))
	l.expect("1.2.21", "1", "CANCELED")

	// Unsubscribing per workitem stops that workitem's events only.
	s.must(http.StatusOK, "DELETE", "/workitems/1.2.21/subscribers/CLINIC", "")
}

func TestSuspendedGlobalStopsNewWorkitemsOnly(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", global+"EXPERT3", "")
	s.must(http.StatusCreated, "POST", "/workitems?1.2.30", workitemJSON("a"))
	s.must(http.StatusOK, "POST", global+"EXPERT3/suspend", "")
	s.must(http.StatusCreated, "POST", "/workitems?1.2.31", workitemJSON("a"))
	s.must(http.StatusOK, "PUT", "/workitems/1.2.30/state", stateJSON("IN PROGRESS", "2.25.3"))
	l := s.listen("EXPERT3")
	l.expect("1.2.30", "1", "SCHEDULED")
	// 1.2.31's creation is not reported: the next event is 1.2.30's claim.
	l.expect("1.2.30", "1", "IN PROGRESS")
	s.must(http.StatusNotFound, "POST", global+"NOBODY/suspend", "")

	// Unsubscribing the global subscription ends the per-workitem ones.
	s.must(http.StatusOK, "DELETE", global+"EXPERT3", "")
	s.must(http.StatusCreated, "POST", global+"EXPERT4", "")
	s.must(http.StatusOK, "PUT", "/workitems/1.2.31/state", stateJSON("IN PROGRESS", "2.25.4"))
	m := s.listen("EXPERT4")
	m.expect("1.2.30", "1", "IN PROGRESS")
	m.expect("1.2.31", "1", "SCHEDULED")
	m.expect("1.2.31", "1", "IN PROGRESS")
	s.must(http.StatusOK, "POST", "/workitems/1.2.30?2.25.3", performed)
	s.must(http.StatusOK, "PUT", "/workitems/1.2.30/state", stateJSON("COMPLETED", "2.25.3"))
	m.expect("1.2.30", "1", "COMPLETED")
	// EXPERT3 got nothing after unsubscribing: its channel has no event
	// for 1.2.30's completion before a marker event on a fresh workitem
	// it subscribes to.
	s.must(http.StatusCreated, "POST", "/workitems?1.2.32", workitemJSON("a"))
	s.must(http.StatusCreated, "POST", "/workitems/1.2.32/subscribers/EXPERT3", "")
	l.expect("1.2.32", "1", "SCHEDULED")
}

func TestFilteredGlobalSubscription(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", filtered+"CT-READERS?WorklistLabel=county-b", "")
	s.must(http.StatusBadRequest, "POST", filtered+"BAD?NoSuchKey=1", "")
	l := s.listen("CT-READERS")
	s.must(http.StatusCreated, "POST", "/workitems?1.2.40", workitemJSON("county-c"))
	s.must(http.StatusCreated, "POST", "/workitems?1.2.41", workitemJSON("county-b"))
	l.expect("1.2.41", "1", "SCHEDULED") // 1.2.40 does not match: nothing before
	// Created with a performer: the State Report, then UPS Assigned.
	s.must(http.StatusCreated, "POST", "/workitems?1.2.42", strings.Replace(workitemJSON("county-b"), "{",
		`{"00404034":{"vr":"SQ","Value":[{"00404009":{"vr":"SQ","Value":[{"00080100":{"vr":"SH","Value":["RAD7"]}}]}}]},`, 1))
	l.expect("1.2.42", "1", "SCHEDULED")
	if ev := l.expect("1.2.42", "5", ""); ev["00404034"] == nil {
		t.Errorf("UPS Assigned lacks the performers: %v", ev)
	}
	// An update that makes 1.2.40 match starts its events.
	s.must(http.StatusOK, "POST", "/workitems/1.2.40", `{"00741202":{"vr":"LO","Value":["county-b"]}}`)
	l.expect("1.2.40", "1", "SCHEDULED")
	s.must(http.StatusOK, "PUT", "/workitems/1.2.40/state", stateJSON("IN PROGRESS", "2.25.40"))
	l.expect("1.2.40", "1", "IN PROGRESS")
}

// A subscriber away while 100 events happen, and the worklist restarted
// in between, receives all of them in order when it reconnects.
func TestSubscriberAwayGetsEverythingInOrder(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", global+"EXPERT5", "")
	l := s.listen("EXPERT5")
	s.must(http.StatusCreated, "POST", "/workitems?1.2.50.0", workitemJSON("a"))
	l.expect("1.2.50.0", "1", "SCHEDULED")
	l.closeDelivered(s, "EXPERT5")
	for i := 1; i <= 100; i++ {
		s.must(http.StatusCreated, "POST", fmt.Sprintf("/workitems?1.2.50.%d", i), workitemJSON("a"))
		if i == 50 {
			s.stop()
			s.start()
		}
	}
	l = s.listen("EXPERT5")
	for i := 1; i <= 100; i++ {
		l.expect(fmt.Sprintf("1.2.50.%d", i), "1", "SCHEDULED")
	}
	// Then live events follow.
	s.must(http.StatusCreated, "POST", "/workitems?1.2.50.101", workitemJSON("a"))
	l.expect("1.2.50.101", "1", "SCHEDULED")
}

// Events not delivered within the retention are dropped and the
// subscriber is told how many; a final workitem under a deletion lock
// stays until its subscriber has had the final state.
func TestRetentionAndDeletionLock(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", "/workitems?1.2.60", workitemJSON("a"))
	s.must(http.StatusCreated, "POST", "/workitems/1.2.60/subscribers/LOCKER?deletionlock=true", "")
	s.must(http.StatusCreated, "POST", "/workitems/1.2.60/subscribers/LATE", "")
	s.must(http.StatusOK, "PUT", "/workitems/1.2.60/state", stateJSON("IN PROGRESS", "2.25.6"))
	s.must(http.StatusOK, "PUT", "/workitems/1.2.60/state", stateJSON("CANCELED", "2.25.6"))

	// Past the retention: LATE's three events are dropped and counted;
	// LOCKER's final state stays, and with it the workitem.
	if err := s.svc.Sweep(time.Now().Add(200 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.must(http.StatusOK, "GET", "/workitems/1.2.60", "")
	late := s.listen("LATE")
	ev := late.next()
	if attr(ev, "00001002") != "4" || !strings.Contains(attr(ev, "00000902"), "3 events") {
		t.Fatalf("first message after a drop: got %v, want an SCP Status Change saying 3 were dropped", ev)
	}
	l := s.listen("LOCKER")
	l.next() // the drop notice for its two older events
	l.expect("1.2.60", "1", "CANCELED")
	l.closeDelivered(s, "LOCKER")
	// Delivered: the lock is released and the workitem goes at the next sweep.
	waitFor(t, func() bool {
		s.svc.Sweep(time.Now().Add(200 * time.Hour))
		return s.do("GET", "/workitems/1.2.60", "").code == http.StatusNotFound
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Events written to a connection that dies before the subscriber read
// them are sent again on the next connection.
func TestUnreadEventsAreSentAgain(t *testing.T) {
	s := startServer(t)
	s.must(http.StatusCreated, "POST", global+"EXPERT6", "")
	for i := range 3 {
		s.must(http.StatusCreated, "POST", fmt.Sprintf("/workitems?1.2.70.%d", i), workitemJSON("a"))
	}
	l := s.listen("EXPERT6")
	l.expect("1.2.70.0", "1", "SCHEDULED")
	l.c.CloseNow() // gone without reading the rest or answering a ping
	l = s.listen("EXPERT6")
	for i := range 3 {
		l.expect(fmt.Sprintf("1.2.70.%d", i), "1", "SCHEDULED")
	}
}
