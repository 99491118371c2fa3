package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/store"
)

// runStore is `medrelay store check`: it checks a stopped relay's
// relay.db page by page and says what it holds, or what is wrong.
func runStore(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return fmt.Errorf("%w: want: medrelay store check --config FILE (or --data-dir DIR)", errUsage)
	}
	fs := newFlags("store check", stderr)
	path := fs.String("config", "", "the relay's YAML configuration file (its data_dir is checked)")
	dir := fs.String("data-dir", "", "the relay's data_dir, instead of --config")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	switch {
	case (*path == "") == (*dir == ""):
		return fmt.Errorf("%w: give either --config FILE or --data-dir DIR", errUsage)
	case *path != "":
		cfg, err := config.Load(*path)
		if err != nil {
			return err
		}
		*dir = cfg.DataDir
	}
	rep, err := store.Check(*dir)
	if err != nil {
		return fmt.Errorf("%w\nThe relay cannot use this file; see \"Recovering a damaged store\" in the README", err)
	}
	fmt.Fprintf(stdout, "ok: %s, %d bytes, every page readable\n", rep.Path, rep.Size)
	names := make([]string, 0, len(rep.Queues))
	for q := range rep.Queues {
		names = append(names, q)
	}
	sort.Strings(names)
	for _, q := range names {
		fmt.Fprintf(stdout, "queue %s: %d envelopes\n", q, rep.Queues[q])
	}
	fmt.Fprintf(stdout, "dead letters: %d\ndedupe records: %d\naudit records: %d\nintake journal applied up to record %d\n",
		rep.DeadLetters, rep.Seen, rep.Audit, rep.Journal)
	return nil
}
