package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/medrelay/medrelay/dicom/ul"
)

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errReported marks a failure already printed (exit status 1, no message).
var errReported = errors.New("failed")

func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// peerFlags are the flags of every client command.
type peerFlags struct {
	host, aet, called     string
	port                  int
	maxPDU, maxSendPDU    uint
	assocTimeout, timeout time.Duration
}

func (p *peerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.host, "host", "", "peer host name or address (required)")
	fs.IntVar(&p.port, "port", 0, "peer port (required)")
	fs.StringVar(&p.aet, "aet", "DICOMGW", "our AE title (calling)")
	fs.StringVar(&p.called, "called", "ANY-SCP", "the peer's AE title (called)")
	registerUL(fs, &p.maxPDU, &p.maxSendPDU, &p.assocTimeout, &p.timeout)
}

func registerUL(fs *flag.FlagSet, maxPDU, maxSend *uint, assoc, network *time.Duration) {
	fs.UintVar(maxPDU, "max-pdu", ul.DefaultMaxPDULength, "largest PDU we receive, 4096..")
	fs.UintVar(maxSend, "max-send-pdu", 0, "cap on the PDUs we send (0: the peer's limit)")
	fs.DurationVar(assoc, "assoc-timeout", 30*time.Second, "association negotiation and ARTIM timeout")
	fs.DurationVar(network, "timeout", 60*time.Second, "network timeout for each read and write")
}

func (p *peerFlags) check() error {
	if p.host == "" {
		return usageErrorf("missing --host (want --host NAME or address)")
	}
	if p.port <= 0 || p.port > 65535 {
		return usageErrorf("missing or invalid --port %d (want --port 1..65535)", p.port)
	}
	for name, v := range map[string]string{"--aet": p.aet, "--called": p.called} {
		if err := checkAE(name, v); err != nil {
			return err
		}
	}
	return nil
}

func checkAE(name, v string) error {
	if v == "" || len(v) > ul.MaxAETitleLength || strings.ContainsAny(v, "\\\n\r") {
		return usageErrorf("invalid %s %q (want 1 to 16 characters, no backslash)", name, v)
	}
	return nil
}

func (p *peerFlags) addr() string { return fmt.Sprintf("%s:%d", p.host, p.port) }

func (p *peerFlags) options() *ul.Options {
	return ulOptions(p.maxPDU, p.maxSendPDU, p.assocTimeout, p.timeout)
}

func ulOptions(maxPDU, maxSend uint, assoc, network time.Duration) *ul.Options {
	if network == 0 {
		network = -1
	}
	return &ul.Options{MaxPDULength: uint32(maxPDU), MaxSendPDULength: uint32(maxSend),
		AssocTimeout: assoc, NetworkTimeout: network}
}

// parse parses flags interleaved with positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: dicomgw %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// keyList collects repeated -k TAG=VALUE flags.
type keyList []string

func (k *keyList) String() string { return strings.Join(*k, " ") }

func (k *keyList) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q is not TAG=VALUE (e.g. PatientID=123 or 0010,0020=123)", v)
	}
	*k = append(*k, v)
	return nil
}
