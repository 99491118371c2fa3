package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/medrelay/medrelay/gateway/store"
)

func runSendStudy(ctx context.Context, args []string) error {
	var g gatewayFlags
	fs := newFlagSet("send-study", "--gateway URL --study UID --from PEER_AET --to RELAY/GW [--destination AET] [--wait]")
	fs.StringVar(&g.url, "gateway", "", "the gateway's HTTP address, like http://127.0.0.1:8400 (required)")
	fs.StringVar(&g.token, "token", "", "a token the gateway's API accepts when auth is on: its relay token or one of its http_tokens (default $MEDRELAY_TOKEN)")
	study := fs.String("study", "", "the StudyInstanceUID to send (required)")
	from := fs.String("from", "", "AE title of the peer holding the study, in the gateway's peers (required)")
	to := fs.String("to", "", "the remote gateway's relay address, like county-b/gw-b (required)")
	dest := fs.String("destination", "", "AE title at the remote gateway (default: its deliver.default_destination)")
	wait := fs.Bool("wait", false, "wait until the transfer is acknowledged (exit 0) or failed (exit 1)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErrorf("send-study: unexpected argument %q", pos[0])
	case *study == "":
		return usageErrorf("send-study: missing --study UID")
	case *from == "":
		return usageErrorf("send-study: missing --from PEER_AET")
	case *to == "":
		return usageErrorf("send-study: missing --to RELAY/GW (the remote gateway's address)")
	}
	if err := g.check(); err != nil {
		return err
	}
	rq := map[string]string{"study_uid": *study, "from": *from, "to": *to, "destination": *dest}
	var out map[string]string
	if err := g.call(ctx, http.MethodPost, "/v1/studies/send", rq, &out); err != nil {
		return err
	}
	fmt.Println(*study)
	if !*wait {
		return nil
	}
	for {
		var st struct{ Studies []store.Transfer }
		if err := g.call(ctx, http.MethodGet, "/v1/studies?study="+url.QueryEscape(*study), nil, &st); err != nil {
			return err
		}
		for _, r := range st.Studies {
			if r.Side != "outgoing" || r.Peer != *to {
				continue
			}
			switch r.State {
			case "acknowledged":
				fmt.Printf("acknowledged: %d instances, %d stored, %d already present\n", r.Instances, r.Stored, r.AlreadyPresent)
				return nil
			case "failed":
				fmt.Fprintf(os.Stderr, "failed: %d stored, %d already present, %d failed: %s\n", r.Stored, r.AlreadyPresent, r.Failed, r.Error)
				return errReported
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
