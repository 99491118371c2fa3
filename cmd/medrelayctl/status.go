package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/medrelay/medrelay/adminapi"
)

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	cf := addConnFlags(fs)
	relayURL := fs.String("relay", "", "the relay's URL, like http://127.0.0.1:7100")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parse(fs, args, "relay"); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	var st adminapi.Status
	if err := getJSON(ctx, cf, *relayURL, "/v1/status", rawTo(*asJSON, stdout), &st); err != nil || *asJSON {
		return err
	}
	printStatus(stdout, &st)
	return nil
}

// getJSON fetches path from the relay's admin API: with raw set it copies
// the JSON there as it is, otherwise it decodes it into v.
func getJSON(ctx context.Context, cf *connFlags, base, path string, raw io.Writer, v any) error {
	body, err := get(ctx, cf, base, path, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	if raw != nil {
		_, err := io.Copy(raw, body)
		return err
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// rawTo returns w when the user asked for JSON, else nil.
func rawTo(asJSON bool, w io.Writer) io.Writer {
	if asJSON {
		return w
	}
	return nil
}

func printStatus(w io.Writer, st *adminapi.Status) {
	fmt.Fprintf(w, "relay %s (%s, version %s)\n", st.ID, st.Role, st.Version)
	if p := st.Parent; p != nil {
		fmt.Fprintf(w, "parent: %s %s", p.State, p.URL)
		if p.State == "connected" {
			fmt.Fprintf(w, " (%s via %s %s, since %s)", p.Parent, p.Transport, p.Addr, p.Since.Format(time.RFC3339))
		} else if p.LastError != "" {
			fmt.Fprintf(w, " (last error: %s)", p.LastError)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "children:")
	if len(st.Children) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, c := range st.Children {
		state := "disconnected"
		if c.Connected {
			state = "connected via " + c.Transport
		}
		fmt.Fprintf(w, "  %-16s %-22s subtree: %s\n", c.ID, state, strings.Join(c.Subtree, ", "))
	}
	fmt.Fprintln(w, "clients:")
	if len(st.Clients) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, c := range st.Clients {
		via := "disconnected"
		if len(c.Transports) > 0 {
			via = "via " + strings.Join(c.Transports, ", ")
		}
		fmt.Fprintf(w, "  %-16s receiving connections: %d, sending: %d, %s\n", c.ID, c.Receivers, c.Senders, via)
	}
	fmt.Fprintln(w, "queues:")
	names := make([]string, 0, len(st.Queues))
	for q := range st.Queues {
		names = append(names, q)
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Fprintln(w, "  all empty")
	}
	for _, q := range names {
		fmt.Fprintf(w, "  %-24s %d\n", q, st.Queues[q])
	}
	fmt.Fprintf(w, "dead letters: %d\n", st.DeadLetters)
	if st.Commits > 0 {
		// A slow disk shows here first: every envelope waits for a commit.
		fmt.Fprintf(w, "disk commits: %d since start, %s each on average (last %s), %.1f batches per commit\n",
			st.Commits, st.CommitAvg, st.CommitLast, st.CommitGroup)
	}
	if st.Journal != "" {
		fmt.Fprintf(w, "intake journal: %s, %d client batches acknowledged from it, %d stored without it\n",
			st.Journal, st.JournalBatches, st.JournalBypassed)
	}
	if st.StoreError != "" {
		fmt.Fprintf(w, "store: NOT WRITING, the last commit failed: %s\n", st.StoreError)
	}
}

// get fetches path from the relay's admin API.
func get(ctx context.Context, cf *connFlags, base, path string, query map[string]string) (io.ReadCloser, error) {
	hc, err := cf.httpClient(base)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: --relay %q: %v", errUsage, base, err)
	}
	q := req.URL.Query()
	for k, v := range query {
		if v != "" {
			q.Set(k, v)
		}
	}
	req.URL.RawQuery = q.Encode()
	cf.authorize(req)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach relay: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("relay answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp.Body, nil
}
