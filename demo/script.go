package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
)

const stepTimeout = 10 * time.Second

// script plays one consultation and reports each step.
type script struct {
	ctx context.Context
	n   *Network
	out io.Writer
	num int
}

func play(ctx context.Context, n *Network, out io.Writer) error {
	s := &script{ctx: ctx, n: n, out: out}
	clinic, clinicIn, err := s.connect("township-a1", "clinic-7")
	if err != nil {
		return err
	}
	defer clinic.Close()
	radiology, radiologyIn, err := s.connect("county-b", "radiology")
	if err != nil {
		return err
	}
	defer radiology.Close()

	// 1. A township clinic asks the county-b radiologist for a consultation.
	reqID, err := clinic.Send(ctx, "county-b/radiology", "consult.request",
		map[string]string{"study": "1.2.840.99.1", "modality": "CT"}, []byte("Chest CT, 62-year-old, please review"))
	if err != nil {
		return s.fail("township-a1/clinic-7 sends consult.request", err)
	}
	s.ok("township-a1/clinic-7 sent consult.request to county-b/radiology (id %s); the relay stored it", short(reqID))

	req, err := s.await(radiologyIn, "county-b/radiology receives consult.request")
	if err != nil {
		return err
	}
	s.ok("county-b/radiology received %s %q via %s", req.Command, req.Body, hops(req))

	// 2. The radiologist replies; the reply carries the request's id.
	if _, err := radiology.Reply(ctx, req, "consult.reply", map[string]string{"finding": "no acute findings"}, []byte("Report attached in the PACS")); err != nil {
		return s.fail("county-b/radiology replies", err)
	}
	s.ok("county-b/radiology replied with consult.reply")
	reply, err := s.await(clinicIn, "township-a1/clinic-7 receives the reply")
	if err != nil {
		return err
	}
	if reply.CorrelationId != reqID {
		return s.fail("reply answers the request", fmt.Errorf("correlation_id %s, want %s", reply.CorrelationId, reqID))
	}
	s.ok("township-a1/clinic-7 received consult.reply (finding: %s), answering %s", reply.Args["finding"], short(reply.CorrelationId))

	// 3. A message to a clinic that is offline waits at its relay.
	if _, err := clinic.Send(ctx, "county-a/clinic-12", "study.ready", map[string]string{"study": "1.2.840.99.1"}, nil); err != nil {
		return s.fail("send to the offline clinic", err)
	}
	if err := s.waitQueued("county-a", "client/clinic-12"); err != nil {
		return err
	}
	s.ok("township-a1/clinic-7 sent study.ready to county-a/clinic-12, which is offline: it waits in county-a's queue")
	late, lateIn, err := s.connect("county-a", "clinic-12")
	if err != nil {
		return err
	}
	defer late.Close()
	got, err := s.await(lateIn, "county-a/clinic-12 receives what waited")
	if err != nil {
		return err
	}
	s.ok("county-a/clinic-12 came online and received %s (study %s)", got.Command, got.Args["study"])
	fmt.Fprintf(s.out, "\nAll %d steps succeeded.\n", s.num)
	return nil
}

// connect dials a receiving client and returns what it receives.
func (s *script) connect(relayID, id string) (*client.Client, <-chan *client.Envelope, error) {
	ctx, cancel := context.WithTimeout(s.ctx, stepTimeout)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Relay: s.n.Relays[relayID].URL(), ID: id, Receive: true})
	if err != nil {
		return nil, nil, s.fail("connect "+relayID+"/"+id, err)
	}
	in := make(chan *client.Envelope, 16)
	c.Handle("", func(_ context.Context, e *client.Envelope) error {
		in <- e
		return nil
	})
	return c, in, nil
}

func (s *script) await(in <-chan *client.Envelope, what string) (*client.Envelope, error) {
	select {
	case e := <-in:
		return e, nil
	case <-time.After(stepTimeout):
		return nil, s.fail(what, fmt.Errorf("nothing arrived within %v", stepTimeout))
	case <-s.ctx.Done():
		return nil, s.fail(what, s.ctx.Err())
	}
}

func (s *script) waitQueued(relayID, queue string) error {
	deadline := time.Now().Add(stepTimeout)
	for s.n.Relays[relayID].Status().Queues[queue] == 0 {
		if time.Now().After(deadline) {
			return s.fail("queue at "+relayID, fmt.Errorf("nothing in %s", queue))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (s *script) ok(format string, args ...any) {
	s.num++
	fmt.Fprintf(s.out, "step %d ok: %s\n", s.num, fmt.Sprintf(format, args...))
}

func (s *script) fail(what string, err error) error {
	s.num++
	fmt.Fprintf(s.out, "step %d FAILED: %s: %v\n", s.num, what, err)
	return fmt.Errorf("%w: %s: %v", ErrStepFailed, what, err)
}

func hops(e *client.Envelope) string {
	var names []string
	for _, h := range e.Hops {
		names = append(names, h.Relay)
	}
	return strings.Join(names, " → ")
}

func short(id string) string {
	if len(id) > 13 {
		return id[:13] + "…"
	}
	return id
}
