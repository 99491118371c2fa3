package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/medrelay/medrelay/gateway/store"
)

// gatewayFlags are the flags of commands that talk to a gateway's API.
type gatewayFlags struct {
	url, token string
}

func (g *gatewayFlags) check() error {
	u, err := url.Parse(g.url)
	if g.url == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErrorf("missing or invalid --gateway %q (want the gateway's http address as a URL, like http://127.0.0.1:8400)", g.url)
	}
	if g.token == "" {
		g.token = os.Getenv("MEDRELAY_TOKEN")
	}
	return nil
}

// call does one request to the gateway's API and decodes its JSON answer.
func (g *gatewayFlags) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(g.url, "/")+path, body)
	if err != nil {
		return err
	}
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", g.url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("gateway %s: %w", g.url, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return fmt.Errorf("gateway %s: %s", g.url, e.Error)
		}
		return fmt.Errorf("gateway %s: %s: %s", g.url, resp.Status, strings.TrimSpace(string(raw)))
	}
	return json.Unmarshal(raw, out)
}

func runStudies(ctx context.Context, args []string) error {
	var g gatewayFlags
	fs := newFlagSet("studies", "--gateway URL [--study UID] [--json] [--watch]")
	fs.StringVar(&g.url, "gateway", "", "the gateway's HTTP address, like http://127.0.0.1:8400 (required)")
	fs.StringVar(&g.token, "token", "", "a token the gateway's API accepts when auth is on: its relay token or one of its http_tokens (default $MEDRELAY_TOKEN)")
	study := fs.String("study", "", "show this study only")
	asJSON := fs.Bool("json", false, "one JSON object per line and per study transfer")
	watch := fs.Bool("watch", false, "refresh every second with progress bars, until interrupted")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("studies: unexpected argument %q", pos[0])
	}
	if err := g.check(); err != nil {
		return err
	}
	path := "/v1/studies"
	if *study != "" {
		path += "?study=" + url.QueryEscape(*study)
	}
	for {
		var out struct {
			Studies []json.RawMessage `json:"studies"`
		}
		if err := g.call(ctx, http.MethodGet, path, nil, &out); err != nil {
			return err
		}
		if *asJSON {
			for _, s := range out.Studies {
				var b bytes.Buffer
				json.Compact(&b, s)
				fmt.Println(b.String())
			}
		} else {
			rows := make([]store.Transfer, len(out.Studies))
			for i, s := range out.Studies {
				json.Unmarshal(s, &rows[i])
			}
			if *watch {
				fmt.Print("\033[H\033[2J")
				fmt.Printf("%s  %s\n\n", g.url, time.Now().Format("15:04:05"))
			}
			printStudies(os.Stdout, rows, *watch)
		}
		if !*watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func printStudies(w io.Writer, rows []store.Transfer, bars bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "STUDY\tSIDE\tPEER\tDESTINATION\tSTATE\tINSTANCES\tSTORED\tALREADY\tFAILED\tSIZE"
	if bars {
		head += "\tPROGRESS"
	}
	fmt.Fprintln(tw, head+"\tERROR")
	for _, r := range rows {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%.1f MB", r.StudyUID, r.Side, r.Peer, dash(r.Destination), r.State,
			r.Instances, r.Stored, r.AlreadyPresent, r.Failed, float64(r.Bytes)/1e6)
		if bars {
			line += "\t" + bar(progress(r), 20)
		}
		fmt.Fprintln(tw, line+"\t"+r.Error)
	}
	tw.Flush()
}

// progress is the share of the transfer done: uploads then the receipt on
// the sending side; downloads and stores on the receiving side.
func progress(r store.Transfer) float64 {
	if r.Instances == 0 {
		return 0
	}
	n := float64(r.Instances)
	switch {
	case r.State == "acknowledged" || r.State == "failed":
		return 1
	case r.Side == "outgoing":
		return 0.9 * float64(r.Uploaded) / n
	default:
		return (float64(r.Downloaded) + float64(r.Stored+r.AlreadyPresent+r.Failed)) / (2 * n)
	}
}

func bar(f float64, width int) string {
	f = max(0, min(f, 1))
	full := int(f * float64(width))
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + fmt.Sprintf("] %3.0f%%", f*100)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
