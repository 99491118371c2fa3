package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
)

var trTransports = []string{"http", "tcp", "quic"}

// TestTransportMatrixWithTLS runs clinic→county over each of http, tcp
// and quic × county→province over each of them (9 combinations), with TLS
// and tokens on every link, each delivering in both directions: a clinic
// sends to hq at main, hq replies.
func TestTransportMatrixWithTLS(t *testing.T) {
	n := newSecNet(t, "main", "county-http", "county-tcp", "county-quic")
	main := n.start("main", "quic", nil, "")
	counties := map[string]*relayProc{}
	for _, up := range trTransports {
		counties[up] = n.start("county-"+up, "http", main, up)
	}
	waitFor(t, "main sees every county over its pinned transport", func() bool {
		ok := 0
		for _, c := range main.Status().Children {
			if c.Connected && c.Transport == strings.TrimPrefix(c.ID, "county-") {
				ok++
			}
		}
		return ok == 3
	})
	hq := n.dial(main, "hq", "auto", true)
	hqIn := trCollect(hq)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type clinic struct {
		name string
		c    *client.Client
		in   *trInbox
		sent string
	}
	var clinics []*clinic
	for _, up := range trTransports {
		for _, down := range trTransports {
			cl := &clinic{name: fmt.Sprintf("clinic %s→county, county→main %s", down, up)}
			cl.c = n.dial(counties[up], "clinic-"+down, down, true)
			cl.in = trCollect(cl.c)
			id, err := cl.c.Send(ctx, "main/hq", "consult.request", map[string]string{"combo": cl.name}, []byte("up"))
			if err != nil {
				t.Fatalf("%s: send: %v", cl.name, err)
			}
			cl.sent = id
			clinics = append(clinics, cl)
		}
	}
	waitFor(t, "hq receives from all 9 combinations", func() bool { return hqIn.count() == 9 })
	for _, cl := range clinics {
		if !hqIn.has(cl.sent) {
			t.Fatalf("%s: hq did not receive %s", cl.name, cl.sent)
		}
		if _, err := hq.Reply(ctx, hqIn.got[cl.sent], "consult.reply", nil, []byte("down")); err != nil {
			t.Fatalf("%s: reply: %v", cl.name, err)
		}
	}
	for _, cl := range clinics {
		waitFor(t, cl.name+": reply arrives", func() bool { return cl.in.count() == 1 })
		for _, e := range cl.in.got {
			if e.CorrelationId != cl.sent {
				t.Fatalf("%s: got correlation %q, want %q", cl.name, e.CorrelationId, cl.sent)
			}
		}
		if got := cl.c.Transport(); got != strings.TrimPrefix(cl.c.Address()[strings.Index(cl.c.Address(), "/")+1:], "clinic-") {
			t.Fatalf("%s: client transport %q", cl.name, got)
		}
	}
	// Status shows each client's transport.
	for _, down := range trTransports {
		found := false
		for _, c := range counties["tcp"].Status().Clients {
			if c.ID == "clinic-"+down && strings.Join(c.Transports, ",") == down {
				found = true
			}
		}
		if !found {
			t.Fatalf("county-tcp status does not show clinic-%s via %s: %+v", down, down, counties["tcp"].Status().Clients)
		}
	}
	out, err := ctl(t, ctx, "status", "--relay", counties["quic"].URL, "--ca-file", n.ca, "--token", counties["quic"].admin)
	if err != nil || !strings.Contains(out, "via quic") || !strings.Contains(out, "via http") {
		t.Fatalf("medrelayctl status: %v\n%s", err, out)
	}
}
