package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/envelope"
)

func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("listen", stderr)
	cf := addConnFlags(fs)
	relayURL := fs.String("relay", "", "the relay's URL, like http://127.0.0.1:7100")
	id := fs.String("id", "", "the client id to receive for")
	count := fs.Int("count", 0, "exit after this many envelopes (0: run until interrupted)")
	timeout := fs.Duration("timeout", 0, "fail when the envelopes have not arrived after this long (0: wait forever)")
	asJSON := fs.Bool("json", false, "print one protojson object per line")
	saveDir := fs.String("save-dir", "", "download every attached file into this directory and verify it")
	if err := parse(fs, args, "relay", "id"); err != nil {
		return err
	}
	if err := checkID(*id); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if *count < 0 {
		return fmt.Errorf("%w: --count must not be negative", errUsage)
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	opts := cf.apply(client.Options{Relay: *relayURL, ID: *id, Receive: true})
	if *count > 0 {
		// Take one envelope at a time, so none is acknowledged unprinted.
		opts.MaxBatch = 1
	}
	c, err := client.Dial(ctx, opts)
	if err != nil {
		return err
	}
	got := 0
	done := make(chan struct{})
	failed := make(chan error, 1)
	c.Handle("", func(cctx context.Context, e *client.Envelope) error {
		if *count > 0 && got >= *count {
			<-cctx.Done() // not ours to take: Close leaves it queued
			return cctx.Err()
		}
		printEnvelope(stdout, e, *asJSON)
		if err := saveFiles(cctx, c, e, *saveDir, stderr); err != nil {
			select { // the envelope stays queued: a new run tries again
			case failed <- err:
			default:
			}
			<-cctx.Done()
			return cctx.Err()
		}
		got++
		if *count > 0 && got == *count {
			close(done)
		}
		return nil
	})
	select {
	case <-done:
		c.Close()
		return nil
	case err := <-failed:
		c.Close()
		return err
	case <-ctx.Done():
		c.Close()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("timeout after %v: received %d of %d envelopes", *timeout, got, *count)
		}
		if *count > 0 {
			return fmt.Errorf("interrupted: received %d of %d envelopes", got, *count)
		}
		return nil
	}
}

func printEnvelope(w io.Writer, e *client.Envelope, asJSON bool) {
	if asJSON {
		b, _ := protojson.MarshalOptions{}.Marshal(e)
		fmt.Fprintln(w, string(b))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> %s %s id=%s", time.Now().Format(time.TimeOnly), envelope.FormatAddress(e.From), envelope.FormatAddress(e.To), e.Command, e.Id)
	if e.CorrelationId != "" {
		fmt.Fprintf(&b, " correlation=%s", e.CorrelationId)
	}
	if e.Receipt != nil {
		fmt.Fprintf(&b, " receipt=%s reason=%q", e.Receipt.Status, e.Receipt.Reason)
	}
	keys := make([]string, 0, len(e.Args))
	for k := range e.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, e.Args[k])
	}
	switch {
	case len(e.Body) == 0:
	case utf8.Valid(e.Body) && len(e.Body) <= 200:
		fmt.Fprintf(&b, " body=%q", e.Body)
	default:
		fmt.Fprintf(&b, " body=%d bytes", len(e.Body))
	}
	fmt.Fprintln(w, b.String())
}
