package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/medrelay/medrelay/adminapi"
)

// runDeadLetters lists a relay's dead letters, or replays one:
//
//	medrelayctl deadletters --relay URL [--json]
//	medrelayctl deadletters replay --relay URL --seq N
func runDeadLetters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	replay := len(args) > 0 && args[0] == "replay"
	if replay {
		args = args[1:]
	}
	fs := newFlags("deadletters", stderr)
	relayURL := fs.String("relay", "", "the relay's URL")
	asJSON := fs.Bool("json", false, "print the list as JSON")
	seq := fs.Uint64("seq", 0, "replay: the dead letter's seq, as the list shows it")
	cf := addConnFlags(fs)
	if err := parse(fs, args, "relay"); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if replay {
		if *seq == 0 {
			return fmt.Errorf("%w: --seq is required: the seq of the dead letter to replay (see medrelayctl deadletters --relay URL)", errUsage)
		}
		return replayDeadLetter(ctx, cf, *relayURL, *seq, stdout)
	}
	var list []adminapi.DeadLetter
	if err := getJSON(ctx, cf, *relayURL, "/v1/deadletters", rawTo(*asJSON, stdout), &list); err != nil || *asJSON {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
	}
	for _, d := range list {
		fmt.Fprintf(stdout, "%6d  %s  %-28s -> %-28s %-20s %s  id=%s\n",
			d.Seq, d.At.Local().Format("2006-01-02 15:04:05"), d.From, d.To, d.Command, d.Reason, d.ID)
	}
	return nil
}

func replayDeadLetter(ctx context.Context, cf *connFlags, base string, seq uint64, stdout io.Writer) error {
	hc, err := cf.httpClient(base)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/v1/deadletters/%d/replay", strings.TrimRight(base, "/"), seq)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return fmt.Errorf("%w: --relay %q: %v", errUsage, base, err)
	}
	cf.authorize(req)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("reach relay: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("replay dead letter %d: %s", seq, strings.TrimSpace(string(msg)))
	}
	var out struct {
		Queue string `json:"queue"`
	}
	json.Unmarshal(msg, &out)
	fmt.Fprintf(stdout, "dead letter %d replayed: queued for %s\n", seq, out.Queue)
	return nil
}
