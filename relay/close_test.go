package relay_test

import (
	"net"
	"testing"
	"time"

	"github.com/medrelay/medrelay/link"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

type nopHandler struct{}

func (nopHandler) Batch(_ *pb.Batch, ack func([]*pb.Rejection)) { ack(nil) }
func (nopHandler) Announce([]string)                            {}

// A client whose handshake ends while the relay is closing is sent away:
// Close does not wait forever on a link that answers its heartbeats.
func TestCloseEndsALinkThatJoinsWhileItRuns(t *testing.T) {
	r := startRelay(t, "main", "", t.TempDir())
	raw, err := net.Dial("tcp", r.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	time.Sleep(100 * time.Millisecond) // the relay waits for our hello
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	time.Sleep(200 * time.Millisecond) // Close now waits for its links
	c := link.New(raw.(link.Stream), fastLink)
	if _, err := c.Greet(&pb.Hello{ClientId: "clinic", Version: "test"}); err == nil {
		c.Run(nopHandler{}) // a live client: it answers heartbeats
		defer c.Close("test over")
	}
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close still waits on a link that joined while it ran")
	}
}
