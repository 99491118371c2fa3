// Package demo runs a small medrelay network in one process: a main relay,
// two county nodes and a township node under one of them, plus clinic
// applications and two imaging gateways, and plays a scripted consultation
// and a study's transfer through it. It is what
// `medrelay demo` runs, and a quick way to see the system work.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/config"
)

// Options configure a demo run.
type Options struct {
	// Once exits after the script instead of serving until ctx ends.
	Once bool
	// Dir holds the relays' data (default: a temporary directory, removed at exit).
	Dir string
	// Out receives the script's steps and the addresses.
	Out io.Writer
	// Verbose sends the relays' logs to LogOut.
	Verbose bool
	LogOut  io.Writer
}

// ErrStepFailed is returned when a step of the script did not succeed.
var ErrStepFailed = errors.New("demo step failed")

// Network is the demo's relays, by id.
type Network struct {
	Relays map[string]*relay.Relay
	order  []string
}

// Run starts the network, plays the script and, unless opts.Once, serves
// until ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "medrelay-demo-")
		if err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	log := slog.New(slog.DiscardHandler)
	if opts.Verbose && opts.LogOut != nil {
		log = slog.New(slog.NewTextHandler(opts.LogOut, nil))
	}
	n, err := Start(dir, log)
	if err != nil {
		return err
	}
	defer n.Close()
	fmt.Fprintf(opts.Out, "medrelay demo: main, county-a, county-b and township-a1 (under county-a); data in %s\n\n", dir)
	if err := play(ctx, n, opts.Out); err != nil {
		return err
	}
	im, err := startImaging(dir, n, log)
	if err != nil {
		return err
	}
	defer im.Close()
	fmt.Fprintf(opts.Out, "\nImaging: a study from the township clinic's CT to county-b's viewer, through the gateways township-a1/gw-a1 and county-b/gw-b\n\n")
	s := &script{ctx: ctx, n: n, out: opts.Out}
	if err := s.playImaging(dir, im); err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "\nAll %d imaging steps succeeded.\n", s.num)
	if opts.Once {
		return nil
	}
	n.printAddresses(opts.Out)
	fmt.Fprintf(opts.Out, "Gateways: township-a1/gw-a1 (DICOM %s, called title %s; HTTP http://%s) and county-b/gw-b (HTTP http://%s):\n  go run ./cmd/dicomgw studies --gateway http://%s\n\n",
		im.a.DICOMAddr(), demoRoute, im.a.HTTPAddr(), im.b.HTTPAddr(), im.a.HTTPAddr())
	<-ctx.Done()
	fmt.Fprintln(opts.Out, "\nmedrelay demo: stopping")
	return nil
}

// Start starts the demo relays on free loopback ports.
func Start(dir string, log *slog.Logger) (*Network, error) {
	n := &Network{Relays: map[string]*relay.Relay{}}
	specs := []struct{ id, parent string }{
		{"main", ""}, {"county-a", "main"}, {"county-b", "main"}, {"township-a1", "county-a"},
	}
	for _, s := range specs {
		cfg := &config.Config{
			ID: s.id, Role: config.RoleMain, DataDir: filepath.Join(dir, s.id),
			Listen: config.Listen{HTTP: "127.0.0.1:0", TCP: "127.0.0.1:0", Prefer: "tcp"},
			Limits: config.Limits{MaxFrameBytes: config.DefaultMaxFrameBytes, MaxBodyBytes: config.DefaultMaxBodyBytes, MaxTTL: config.DefaultMaxTTL},
		}
		if s.parent != "" {
			cfg.Role = config.RoleNode
			cfg.Parent = &config.Parent{URL: n.Relays[s.parent].URL(), Transport: "auto"}
		}
		r, err := relay.New(cfg, relay.Options{Logger: log})
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("start %s: %w", s.id, err)
		}
		r.Start()
		n.Relays[s.id] = r
		n.order = append(n.order, s.id)
	}
	return n, n.waitLinked(10 * time.Second)
}

// waitLinked waits until main routes to every node.
func (n *Network) waitLinked(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		routed := 0
		for _, c := range n.Relays["main"].Status().Children {
			if c.Connected {
				routed += len(c.Subtree)
			}
		}
		if routed == len(n.Relays)-1 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the nodes did not link to main in time")
}

// Close stops every relay.
func (n *Network) Close() {
	for i := len(n.order) - 1; i >= 0; i-- {
		n.Relays[n.order[i]].Close()
	}
}

func (n *Network) printAddresses(w io.Writer) {
	fmt.Fprintln(w, "\nThe network keeps running. Relays:")
	for _, id := range n.order {
		r := n.Relays[id]
		fmt.Fprintf(w, "  %-12s %s  (tcp %s)\n", id, r.URL(), r.TCPAddr())
	}
	a, b, m := n.Relays["county-a"].URL(), n.Relays["county-b"].URL(), n.Relays["main"].URL()
	fmt.Fprintf(w, `
Try, in another terminal:
  go run ./cmd/medrelayctl listen --relay %s --id radiology
  go run ./cmd/medrelayctl send   --relay %s --id clinic-12 --to county-b/radiology --command consult.request --body "please review"
  go run ./cmd/medrelayctl status --relay %s
  go run ./cmd/medrelayctl audit  --relay %s --since 1h

Press Ctrl-C to stop.
`, b, a, a, m)
}
