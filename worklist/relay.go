package worklist

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Envelope commands of subscribers across the relay tree. An application
// sends ups.subscribe or ups.unsubscribe to the gateway hosting the
// worklist (args: workitem = a workitem UID, or a global subscription's
// UID, the default; deletion_lock = "true"; filter = the matching keys of
// a filtered global subscription as a URL query, like
// "WorklistLabel=county-b"). Each event report comes back as a ups.event
// envelope: args workitem, event_type and number (the subscriber's own
// event number), body the DICOM JSON message the WebSocket would carry.
const (
	CmdSubscribe   = "ups.subscribe"
	CmdUnsubscribe = "ups.unsubscribe"
	CmdEvent       = "ups.event"
)

// relayPrefix marks a subscriber reached through the relay. A backslash
// is not allowed in AE titles, so these never collide with one.
const relayPrefix = "relay\\"

// relayRetry is the pause before sending again after the relay refused.
const relayRetry = 5 * time.Second

// RelaySender is what relay delivery needs: send one envelope and return
// once the relay has stored it.
type RelaySender interface {
	SendEvent(ctx context.Context, to string, args map[string]string, body []byte) error
}

// HandleEnvelope takes ups.subscribe and ups.unsubscribe from the
// application at address from (relay/client).
func (s *Service) HandleEnvelope(command, from string, args map[string]string) error {
	if strings.Count(from, "/") != 1 {
		return badRequest("sender %q is not a relay address relay/client", from)
	}
	uid := args["workitem"]
	if uid == "" {
		uid = GlobalSubscriber
	}
	key := relayPrefix + from
	switch command {
	case CmdUnsubscribe:
		return s.Unsubscribe(uid, key)
	case CmdSubscribe:
	default:
		return badRequest("command %q is not %s or %s", command, CmdSubscribe, CmdUnsubscribe)
	}
	var filter *Query
	if f, ok := args["filter"]; ok || uid == FilteredGlobal {
		if uid != FilteredGlobal {
			return badRequest("filter is only for the filtered global subscription %s", FilteredGlobal)
		}
		v, err := url.ParseQuery(f)
		if err != nil {
			return badRequest("filter %q is not a URL query like WorklistLabel=county-b: %v", f, err)
		}
		q, err := ParseQuery(v)
		if err != nil {
			return err
		}
		filter = &q
	}
	s.relayWanted()
	return s.addSubscription(uid, key, args["deletion_lock"] == "true", filter)
}

// relayWanted makes sure the relay delivery loop looks again.
func (s *Service) relayWanted() {
	select {
	case s.relayWake <- struct{}{}:
	default:
	}
}

// RunRelay delivers the events of relay subscribers as ups.event
// envelopes until ctx ends. An event is removed once the relay has stored
// its envelope (at least once: a crash between the two sends it again).
func (s *Service) RunRelay(ctx context.Context, send RelaySender) {
	t := time.NewTicker(relayRetry)
	defer t.Stop()
	for {
		for _, key := range s.relaySubscribers() {
			if err := s.deliverRelay(ctx, send, key); err != nil && ctx.Err() == nil {
				s.log.Warn("worklist event not sent through the relay", "to", strings.TrimPrefix(key, relayPrefix), "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.relayWake:
		case <-t.C:
		}
	}
}

func (s *Service) relaySubscribers() []string {
	var out []string
	s.view(func(t *txn) error {
		c := t.Bucket(bCounters).Cursor()
		for k, _ := c.Seek([]byte(relayPrefix)); k != nil && strings.HasPrefix(string(k), relayPrefix); k, _ = c.Next() {
			out = append(out, string(k))
		}
		return nil
	})
	return out
}

func (s *Service) deliverRelay(ctx context.Context, send RelaySender, key string) error {
	to := strings.TrimPrefix(key, relayPrefix)
	for {
		evs, err := s.Pending(key, 0, sendBatch)
		if err != nil || len(evs) == 0 {
			return err
		}
		for _, e := range evs {
			ds, err := DecodeDataset(e.Msg)
			if err != nil {
				return err
			}
			args := map[string]string{"workitem": ds.Str(tagAffectedSOPInst), "event_type": ds.Str(tagEventTypeID),
				"number": strconv.FormatUint(e.Num, 10)}
			if err := send.SendEvent(ctx, to, args, e.Msg); err != nil {
				return err
			}
			if err := s.Ack(key, e.Seq); err != nil {
				return err
			}
		}
	}
}
