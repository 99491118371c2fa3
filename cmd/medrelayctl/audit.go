package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/envelope"
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	}
	fs := newFlags("audit", stderr)
	cf := addConnFlags(fs)
	relayURL := fs.String("relay", "", "the main relay's URL")
	since := fs.String("since", "", "only records from this long ago (1h) or since this time (RFC 3339)")
	from := fs.String("from", "", "only envelopes from RELAY/CLIENT (or RELAY for all its clients)")
	to := fs.String("to", "", "only envelopes to RELAY/CLIENT (or RELAY for all its clients)")
	command := fs.String("command", "", "only envelopes with this command")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if err := parse(fs, args, "relay"); err != nil {
		return err
	}
	t, err := parseSince(*since)
	if err != nil {
		return err
	}
	for name, a := range map[string]string{"from": *from, "to": *to} {
		if err := checkAddrFilter(name, a); err != nil {
			return err
		}
	}
	q := map[string]string{"from": *from, "to": *to, "command": *command}
	if !t.IsZero() {
		q["since"] = t.UTC().Format(time.RFC3339Nano)
	}
	if err := cf.check(); err != nil {
		return err
	}
	body, err := get(ctx, cf, *relayURL, "/v1/audit", q)
	if err != nil {
		return err
	}
	defer body.Close()
	if *asJSON {
		_, err := io.Copy(stdout, body)
		return err
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		var rec adminapi.AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("decode audit record: %w", err)
		}
		fmt.Fprintf(stdout, "%s  %-28s -> %-28s %-20s %6dB  %s  id=%s\n",
			rec.RoutedAt.Local().Format("2006-01-02 15:04:05.000"), rec.From, rec.To, rec.Command, rec.Bytes, rec.Outcome, rec.ID)
		n++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d records\n", n)
	return nil
}

// checkAddrFilter accepts RELAY, RELAY/ or RELAY/CLIENT.
func checkAddrFilter(name, a string) error {
	if a == "" {
		return nil
	}
	probe := a
	if _, err := envelope.ParseAddress(probe); err != nil {
		if _, err2 := envelope.ParseAddress(a + "/"); err2 != nil {
			return fmt.Errorf("%w: --%s %q is invalid: use RELAY/CLIENT or RELAY", errUsage, name, a)
		}
	}
	return nil
}

// runAuditVerify checks main's audit hash chain:
//
//	medrelayctl audit verify --relay URL [--json]
//
// It exits non-zero when a record was changed or removed.
func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", stderr)
	cf := addConnFlags(fs)
	relayURL := fs.String("relay", "", "the main relay's URL")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args, "relay"); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	var res adminapi.AuditCheck
	if err := getJSON(ctx, cf, *relayURL, "/v1/audit/verify", nil, &res); err != nil {
		return err
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(res)
	} else if res.OK {
		fmt.Fprintf(stdout, "audit chain intact: %d records, head %s\n", res.Records, res.Head)
	}
	if !res.OK {
		return fmt.Errorf("audit chain broken after %d good records, at %s: %s", res.Records, res.BrokenAt.Format(time.RFC3339Nano), res.Problem)
	}
	return nil
}
