package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/envelope"
)

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("send", stderr)
	cf := addConnFlags(fs)
	relayURL := fs.String("relay", "", "the relay's URL, like http://127.0.0.1:7100")
	id := fs.String("id", "", "this application's client id")
	to := fs.String("to", "", "the target, RELAY/CLIENT")
	command := fs.String("command", "", "the command, like consult.request")
	body := fs.String("body", "", "the body, as text")
	bodyFile := fs.String("body-file", "", "read the body from this file")
	ttl := fs.Duration("ttl", 0, "expire the envelope after this long (default: the relay's limit)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up when the relay has not stored it after this long")
	kv := argsFlag{}
	fs.Var(kv, "arg", "an argument KEY=VALUE (repeatable)")
	ff := addFileFlags(fs)
	if err := parse(fs, args, "relay", "id", "to", "command"); err != nil {
		return err
	}
	if err := checkID(*id); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if _, err := envelope.ParseAddress(*to); err != nil {
		return fmt.Errorf("%w: --to: %v", errUsage, err)
	}
	if *body != "" && *bodyFile != "" {
		return fmt.Errorf("%w: use --body or --body-file, not both", errUsage)
	}
	data := []byte(*body)
	if *bodyFile != "" {
		var err error
		if data, err = os.ReadFile(*bodyFile); err != nil {
			return fmt.Errorf("--body-file: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, ff.timeout(fs, *timeout))
	defer cancel()
	c, err := client.Dial(ctx, cf.apply(client.Options{Relay: *relayURL, ID: *id, StateDir: ff.dir(*id)}))
	if err != nil {
		return err
	}
	defer c.Close()
	var opts []client.SendOption
	if *ttl > 0 {
		opts = append(opts, client.WithTTL(*ttl))
	}
	if len(ff.files) > 0 {
		return sendFiles(ctx, c, ff, *to, *command, kv, data, opts, stdout, stderr)
	}
	envID, err := c.Send(ctx, *to, *command, kv, data, opts...)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	fmt.Fprintln(stdout, envID)
	return nil
}
