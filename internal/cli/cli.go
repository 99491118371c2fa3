// Package cli holds what medrelay's commands share around their run
// function: the GC setting, signals, and exit codes.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// ErrUsage marks errors caused by how the command was called (exit 2).
var ErrUsage = errors.New("usage")

// Main runs run with the command line and exits: 0 on success or -h, 2
// for usage errors, 1 for the rest, which are printed after name.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	// A relay's (and the bench's) allocations are short-lived and its heap
	// small: collecting less often saves CPU that envelopes need. GOGC in
	// the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, name+":", err)
		if errors.Is(err, ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
