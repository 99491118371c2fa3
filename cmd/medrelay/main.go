// Command medrelay runs a relay (main or node), checks its configuration,
// or runs a whole demonstration network in one process.
//
//	medrelay serve --config FILE
//	medrelay check-config --config FILE
//	medrelay store check --config FILE | --data-dir DIR
//	medrelay demo [--once] [--dir DIR]
//	medrelay certs init --dir DIR --relays main,county-a,... [--hosts NAME,...]
//	medrelay credentials add --file FILE --id ID
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/medrelay/medrelay/demo"
	"github.com/medrelay/medrelay/internal/cli"
	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/config"
)

const usage = `usage: medrelay COMMAND [flags]

commands:
  serve --config FILE          run a main or node relay
  check-config --config FILE   validate a configuration file and exit
  store check --config FILE | --data-dir DIR
                               check a stopped relay's relay.db page by page
  demo [--once] [--dir DIR]    run a demonstration network in one process
  certs init --dir DIR --relays main,county-a,... [--hosts NAME,...]
                               make a small CA and a certificate per relay
  credentials add --file FILE --id ID
                               add or replace ID's token (prints it; stores its hash)
  version                      print the version

Run "medrelay COMMAND -h" for the flags of a command.`

// errUsage marks errors caused by how the command was called (exit 2).
var errUsage = cli.ErrUsage

func main() { cli.Main("medrelay", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: no command given (want serve, check-config, demo or version)", errUsage)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "check-config":
		return checkConfig(args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "medrelay", relay.Version)
		return nil
	case "store":
		return runStore(args[1:], stdout, stderr)
	case "certs":
		return runCerts(args[1:], stdout, stderr)
	case "credentials":
		return runCredentials(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("%w: unknown command %q (want serve, check-config, demo or version)", errUsage, args[0])
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("medrelay "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func configFlag(name string, args []string, stderr io.Writer) (*config.Config, error) {
	fs := newFlags(name, stderr)
	path := fs.String("config", "", "the relay's YAML configuration file (required)")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if *path == "" {
		return nil, fmt.Errorf("%w: --config FILE is required", errUsage)
	}
	return config.Load(*path)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := configFlag("serve", args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	r, err := relay.New(cfg, relay.Options{Logger: log})
	if err != nil {
		return err
	}
	r.Start()
	<-ctx.Done()
	log.Info("shutting down", "relay", cfg.ID)
	return r.Close()
}

func checkConfig(args []string, stdout, stderr io.Writer) error {
	cfg, err := configFlag("check-config", args, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok: %s relay %s, data in %s, http %s\n", cfg.Role, cfg.ID, cfg.DataDir, cfg.Listen.HTTP)
	return checkFiles(context.Background(), cfg, stdout)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	once := fs.Bool("once", false, "exit after the scripted consultation (0 only when every step succeeded)")
	dir := fs.String("dir", "", "data directory (default: a new temporary directory, removed at exit)")
	verbose := fs.Bool("v", false, "show the relays' logs")
	if err := parse(fs, args); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{Once: *once, Dir: *dir, Out: stdout, Verbose: *verbose, LogOut: stderr})
}
