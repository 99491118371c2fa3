package quiclink

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/tlsconf"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type acker struct{ got chan [][]byte }

func (a acker) Batch(b *pb.Batch, ack func([]*pb.Rejection)) {
	a.got <- b.Envelopes
	ack(nil)
}

func (acker) Announce([]string) {}

// A link runs unchanged on a QUIC stream: the handshake, a batch and its
// acknowledgement, and a goodbye whose reason reaches the other end.
func TestLinkRunsOverQUIC(t *testing.T) {
	cert, err := tlsconf.SelfSigned("main")
	if err != nil {
		t.Fatal(err)
	}
	opts := link.Options{Heartbeat: 50 * time.Millisecond, Timeout: time.Second}
	ln, err := Listen("127.0.0.1:0", nil, &tls.Config{Certificates: []tls.Certificate{cert}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type accepted struct {
		c     *link.Conn
		hello *pb.Hello
		err   error
	}
	acc := make(chan accepted, 1)
	got := make(chan [][]byte, 1)
	go func() {
		qc, err := ln.Accept(ctx)
		if err != nil {
			acc <- accepted{err: err}
			return
		}
		s, err := AcceptStream(qc, link.HandshakeTimeout)
		if err != nil {
			acc <- accepted{err: err}
			return
		}
		c := link.New(s, opts)
		h, err := c.AwaitHello()
		if err == nil {
			err = c.Welcome(&pb.Welcome{RelayId: "main"})
		}
		if err == nil {
			c.Run(acker{got})
		}
		acc <- accepted{c, h, err}
	}()

	s, err := Dial(ctx, ln.Addr().String(), &tls.Config{InsecureSkipVerify: true}, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := link.New(s, opts)
	w, err := c.Greet(&pb.Hello{ClientId: "clinic-12"})
	if err != nil || w.RelayId != "main" {
		t.Fatalf("greet: %v, %v", w, err)
	}
	a := <-acc
	if a.err != nil || a.hello.ClientId != "clinic-12" {
		t.Fatalf("accept: %v, %v", a.hello, a.err)
	}
	c.Run(acker{make(chan [][]byte, 1)})
	if _, err := c.Send(ctx, [][]byte{[]byte("one"), []byte("two")}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if b := <-got; len(b) != 2 || string(b[1]) != "two" {
		t.Fatalf("relay got %q, want one, two", b)
	}
	c.Close("clinic closing")
	select {
	case <-a.c.Done():
	case <-ctx.Done():
		t.Fatal("the relay's end did not notice the goodbye")
	}
	if err := a.c.Err(); err == nil || !strings.Contains(err.Error(), "clinic closing") {
		t.Fatalf("the relay's end ended with %v, want the clinic's reason", err)
	}
}
