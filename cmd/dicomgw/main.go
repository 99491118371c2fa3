// Command dicomgw is medrelay's DICOM gateway: the gateway itself (serve,
// check-config, studies, send-study; see docs/gateway.md), DICOM network
// clients (echo, store, find, move), a storage SCP (scp) and a file dumper
// (dump).
//
//	dicomgw serve        --config FILE
//	dicomgw check-config --config FILE
//	dicomgw studies      --gateway URL [--study UID] [--json] [--watch]
//	dicomgw send-study   --gateway URL --study UID --from PEER_AET --to RELAY/GW [--destination AET] [--wait]
//	dicomgw echo  --host H --port P [--aet OURS] [--called THEIRS]
//	dicomgw store --host H --port P [--aet OURS] [--called THEIRS] PATH...
//	dicomgw scp   --port P --aet AET --dir DIR
//	dicomgw find  --host H --port P [--aet] [--called] --level STUDY|SERIES|IMAGE -k TAG=VALUE...
//	dicomgw move  --host H --port P [--aet] [--called] --dest AET -k StudyInstanceUID=UID...
//	dicomgw dump  FILE...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "dicomgw:", err)
		}
		os.Exit(exitCode(err))
	}
}

var commands = map[string]func(context.Context, []string) error{
	"echo":  runEcho,
	"store": runStore,
	"scp":   runSCP,
	"find":  runFind,
	"move":  runMove,
	"dump":  runDump,

	"serve":        runServe,
	"check-config": runCheckConfig,
	"studies":      runStudies,
	"send-study":   runSendStudy,
}

const usage = `usage: dicomgw COMMAND [flags] [args]

gateway:
  serve        --config FILE                                       run the imaging gateway
  check-config --config FILE                                       validate a gateway config
  studies      --gateway URL [--study UID] [--json] [--watch]      studies sent and received, with counts
  send-study   --gateway URL --study UID --from AET --to R/GW      pull a study from a peer and send it

tools:
  echo   --host H --port P [--aet OURS] [--called THEIRS]          C-ECHO a peer
  store  --host H --port P [--aet] [--called] PATH...              C-STORE files and directories
  scp    --port P --aet AET --dir DIR                              receive C-ECHO and C-STORE
  find   --host H --port P [--aet] [--called] --level L -k K=V...  C-FIND, one JSON object per match
  move   --host H --port P [--aet] [--called] --dest AET -k K=V... C-MOVE with live counters
  dump   FILE...                                                   print a file's attributes

Run "dicomgw COMMAND -h" for the flags of a command.`

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return usageErrorf("no command given (want one of serve, check-config, studies, send-study, echo, store, scp, find, move, dump)")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Println(usage)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintln(os.Stderr, usage)
		return usageErrorf("unknown command %q (want one of serve, check-config, studies, send-study, echo, store, scp, find, move, dump)", args[0])
	}
	return cmd(ctx, args[1:])
}
