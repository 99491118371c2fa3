// Command medrelayctl is the client SDK on the command line: send and
// receive envelopes, look at a relay's status and audit log, and measure
// throughput and latency.
//
//	medrelayctl send   --relay URL --id ID --to RELAY/CLIENT --command CMD [--arg k=v]... [--body TEXT | --body-file F]
//	medrelayctl listen --relay URL --id ID [--count N] [--timeout DURATION] [--json]
//	medrelayctl status --relay URL [--json]
//	medrelayctl audit  --relay URL [--since 1h] [--from R/C] [--to R/C] [--command C] [--json]
//	medrelayctl bench  --relay URL --to-relay URL [--n N] [--size BYTES] [--senders C] [--rate PER_SECOND]
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/medrelay/medrelay/internal/cli"
)

const usage = `usage: medrelayctl COMMAND [flags]

commands:
  send    send one envelope and print its id once the relay stored it
  listen  print envelopes received for a client id, and acknowledge them
  status  show a relay's links and queues
  audit   query main's audit log (audit verify checks its hash chain)
  bench   measure envelopes/s and one-way latency between two relays
  files   gc or list the files a relay holds (files gc --relay URL --older-than 30d)
  deadletters  list a relay's dead letters, or replay one (deadletters replay --relay URL --seq N)

Run "medrelayctl COMMAND -h" for the flags of a command.`

// errUsage marks errors caused by how the command was called (exit 2).
var errUsage = cli.ErrUsage

type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"send":        runSend,
	"listen":      runListen,
	"status":      runStatus,
	"audit":       runAudit,
	"bench":       runBench,
	"files":       runFiles,
	"deadletters": runDeadLetters,
}

func main() { cli.Main("medrelayctl", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: no command given (want send, listen, status, audit or bench)", errUsage)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: unknown command %q (want send, listen, status, audit or bench)", errUsage, args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}
