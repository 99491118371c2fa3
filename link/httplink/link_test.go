package httplink

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/medrelay/medrelay/link"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

type handler struct{ got chan [][]byte }

func (h handler) Batch(b *pb.Batch, ack func([]*pb.Rejection)) {
	h.got <- b.Envelopes
	ack(nil)
}

func (handler) Announce([]string) {}

// serve starts a relay-side Server on a real socket; accept decides on
// each session as the relay would.
func serve(t *testing.T, accept func(AcceptRequest, *Session) (*pb.Session, error)) string {
	t.Helper()
	srv := NewServer(ServerOptions{Accept: accept, IdleTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	srv.Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return hs.URL
}

// A batch pushed by the client reaches the relay's handler and is
// acknowledged; a batch the relay sends reaches the client's long poll.
func TestHTTPLinkCarriesBatchesBothWays(t *testing.T) {
	up := make(chan [][]byte, 1)
	sessions := make(chan *Session, 1)
	base := serve(t, func(req AcceptRequest, s *Session) (*pb.Session, error) {
		if req.Token != "secret" {
			return nil, &Refusal{Status: http.StatusUnauthorized, Reason: "bad token"}
		}
		s.Run(handler{up})
		sessions <- s
		return &pb.Session{RelayId: "county-a"}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := DialOptions{Client: &http.Client{}, Token: "secret", Wait: 200 * time.Millisecond}
	c, w, err := Open(ctx, base, &pb.Hello{ClientId: "clinic-12", Receive: true}, o)
	if err != nil || w.GetRelayId() != "county-a" {
		t.Fatalf("open: %v, %v", w, err)
	}
	defer c.Close("done")
	down := make(chan [][]byte, 1)
	c.Run(handler{down})
	s := <-sessions

	acked := make(chan error, 1)
	if err := c.SendAsync(ctx, [][]byte{[]byte("up")}, func(_ *pb.Ack, err error) { acked <- err }); err != nil {
		t.Fatal(err)
	}
	if got := <-up; len(got) != 1 || string(got[0]) != "up" {
		t.Fatalf("relay got %q, want up", got)
	}
	if err := <-acked; err != nil {
		t.Fatalf("push not acknowledged: %v", err)
	}

	delivered := make(chan error, 1)
	if err := s.SendAsync(ctx, [][]byte{[]byte("down")}, func(_ *pb.Ack, err error) { delivered <- err }); err != nil {
		t.Fatal(err)
	}
	if got := <-down; len(got) != 1 || string(got[0]) != "down" {
		t.Fatalf("client got %q, want down", got)
	}
	select {
	case err := <-delivered:
		if err != nil {
			t.Fatalf("relay's batch not acknowledged: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the next poll did not acknowledge the relay's batch")
	}
}

// A refused session is an error the dialer can tell from a network one.
func TestHTTPLinkRefusal(t *testing.T) {
	base := serve(t, func(AcceptRequest, *Session) (*pb.Session, error) {
		return nil, &Refusal{Status: http.StatusForbidden, Reason: "clinic-12 is not registered here"}
	})
	_, _, err := Open(context.Background(), base, &pb.Hello{ClientId: "clinic-12"}, DialOptions{Client: &http.Client{}})
	if !errors.Is(err, link.ErrRefused) {
		t.Fatalf("got %v, want link.ErrRefused", err)
	}
}

// A poll may acknowledge only batches a poll handed out: one that claims
// more is refused and settles nothing, and the batches still go out.
func TestPollCannotAcknowledgeBatchesNeverHandedOut(t *testing.T) {
	s := newSession("s", 4)
	ctx := context.Background()
	settled := make(chan uint64, 2)
	for i := 0; i < 2; i++ {
		if err := s.SendAsync(ctx, [][]byte{{byte(i)}}, func(a *pb.Ack, _ error) { settled <- a.GetSeq() }); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.poll(ctx, 2, nil, 0); !errors.Is(err, errAckAhead) {
		t.Fatalf("poll acknowledging unsent batch 2: %v, want errAckAhead", err)
	}
	select {
	case seq := <-settled:
		t.Fatalf("batch %d settled by a refused poll", seq)
	default:
	}
	cursor, envs, err := s.poll(ctx, 0, nil, 0)
	if err != nil || cursor != 1 || len(envs) != 1 {
		t.Fatalf("poll = %d, %v, %v; want batch 1", cursor, envs, err)
	}
	if _, _, err := s.poll(ctx, 2, nil, 0); !errors.Is(err, errAckAhead) {
		t.Fatalf("poll acknowledging batch 2 after only 1 was handed out: %v", err)
	}
	if cursor, _, err := s.poll(ctx, 1, nil, 0); err != nil || cursor != 2 || <-settled != 1 {
		t.Fatalf("poll acknowledging 1 = %d, %v; want batch 2 handed out and 1 settled", cursor, err)
	}
	s.Close("test over")
}
