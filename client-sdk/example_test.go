package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/config"
)

// startRelay runs a main relay in this process for the examples. In real
// use the relay runs on its own (medrelay serve) and the application only
// knows its URL.
func startRelay() (*relay.Relay, func()) {
	dir, err := os.MkdirTemp("", "medrelay-example-")
	if err != nil {
		log.Fatal(err)
	}
	r, err := relay.New(&config.Config{
		ID: "county-a", Role: config.RoleMain, DataDir: dir,
		Listen: config.Listen{HTTP: "127.0.0.1:0", TCP: "127.0.0.1:0", Prefer: "tcp"},
		Limits: config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: config.DefaultMaxBodyBytes, MaxTTL: config.DefaultMaxTTL},
	}, relay.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	r.Start()
	return r, func() { r.Close(); os.RemoveAll(dir) }
}

// A clinic asks a radiologist for a consultation and gets the reply.
func Example() {
	r, stop := startRelay()
	defer stop()
	ctx := context.Background()

	// The radiologist's application receives and answers.
	radiology, err := client.Dial(ctx, client.Options{Relay: r.URL(), ID: "radiology", Receive: true})
	if err != nil {
		log.Fatal(err)
	}
	defer radiology.Close()
	radiology.Handle("consult.request", func(ctx context.Context, req *client.Envelope) error {
		fmt.Printf("radiology got %s for study %s\n", req.Command, req.Args["study"])
		_, err := radiology.Reply(ctx, req, "consult.reply", map[string]string{"finding": "normal"}, nil)
		return err
	})

	// The clinic sends the request and waits for the reply.
	clinic, err := client.Dial(ctx, client.Options{Relay: r.URL(), ID: "clinic-12", Receive: true})
	if err != nil {
		log.Fatal(err)
	}
	defer clinic.Close()
	replies := make(chan *client.Envelope, 1)
	clinic.Handle("consult.reply", func(_ context.Context, e *client.Envelope) error {
		replies <- e
		return nil
	})
	id, err := clinic.Send(ctx, "county-a/radiology", "consult.request", map[string]string{"study": "1.2.3"}, []byte("please review"))
	if err != nil {
		log.Fatal(err)
	}
	select {
	case rep := <-replies:
		fmt.Printf("clinic got %s (finding %s), answering its request: %v\n", rep.Command, rep.Args["finding"], rep.CorrelationId == id)
	case <-time.After(10 * time.Second):
		fmt.Println("no reply")
	}
	// Output:
	// radiology got consult.request for study 1.2.3
	// clinic got consult.reply (finding normal), answering its request: true
}

// Send returns once the relay has stored the envelope, even when the
// target is offline: it is delivered when the target connects.
func ExampleClient_Send() {
	r, stop := startRelay()
	defer stop()
	ctx := context.Background()
	clinic, err := client.Dial(ctx, client.Options{Relay: r.URL(), ID: "clinic-12"})
	if err != nil {
		log.Fatal(err)
	}
	defer clinic.Close()
	if _, err := clinic.Send(ctx, "county-a/clinic-30", "study.ready", map[string]string{"study": "1.2.3"}, nil, client.WithTTL(48*time.Hour)); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored; clinic-30 is offline")

	later, err := client.Dial(ctx, client.Options{Relay: r.URL(), ID: "clinic-30", Receive: true})
	if err != nil {
		log.Fatal(err)
	}
	defer later.Close()
	got := make(chan string, 1)
	later.Handle("", func(_ context.Context, e *client.Envelope) error {
		got <- e.Command + " from " + e.From.Relay + "/" + e.From.Client
		return nil
	})
	fmt.Println(<-got)
	// Output:
	// stored; clinic-30 is offline
	// study.ready from county-a/clinic-12
}
