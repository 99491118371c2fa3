package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
)

func runMove(ctx context.Context, args []string) error {
	var p peerFlags
	var keys keyList
	fs := newFlagSet("move", "--host H --port P [--aet] [--called] --dest AET -k StudyInstanceUID=UID...")
	p.register(fs)
	dest := fs.String("dest", "", "AE title the peer sends the instances to (required)")
	level := fs.String("level", "", "STUDY, SERIES or IMAGE (default: from the keys given)")
	model := fs.String("model", "study", "information model: study (study root) or patient (patient root)")
	fs.Var(&keys, "k", "key TAG=VALUE, repeatable (StudyInstanceUID=..., SeriesInstanceUID=..., SOPInstanceUID=...)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErrorf("move: unexpected argument %q (keys go in -k TAG=VALUE)", pos[0])
	case len(keys) == 0:
		return usageErrorf("move: no -k key given (want -k StudyInstanceUID=UID)")
	}
	if err := p.check(); err != nil {
		return err
	}
	if err := checkAE("--dest", *dest); err != nil {
		return err
	}
	lvl, err := checkLevel(moveLevel(*level, keys))
	if err != nil {
		return err
	}
	sop := dimse.StudyRootMove
	if *model == "patient" {
		sop = dimse.PatientRootMove
	} else if *model != "study" {
		return usageErrorf("invalid --model %q (want study or patient)", *model)
	}
	query, err := buildQuery(lvl, keys, false)
	if err != nil {
		return err
	}
	c, err := dimse.Dial(ctx, p.addr(), ul.Request{CallingAE: p.aet, CalledAE: p.called, Contexts: queryContexts(sop)}, p.options())
	if err != nil {
		return fmt.Errorf("move: %w", err)
	}
	id, _, err := encodeQuery(c, sop, query)
	if err != nil {
		c.Assoc().Abort()
		return fmt.Errorf("move: %w", err)
	}
	res, err := c.Move(ctx, dimse.Query{SOPClassUID: sop, Identifier: id, Destination: *dest}, func(n dimse.Counters) {
		fmt.Fprintf(os.Stderr, "move: remaining %s, completed %s, failed %s, warning %s\n",
			count(n.Remaining), count(n.Completed), count(n.Failed), count(n.Warning))
	})
	if err != nil {
		c.Assoc().Abort()
		return err
	}
	c.Close()
	n := res.Counters
	fmt.Printf("move to %s: status %v, completed %s, failed %s, warning %s %s\n", *dest, res.Status,
		count(n.Completed), count(n.Failed), count(n.Warning), res.Comment)
	if !res.OK() {
		return errReported
	}
	return nil
}

func count(n int) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

// moveLevel infers the level from the most specific UID key.
func moveLevel(level string, keys keyList) string {
	if level != "" {
		return level
	}
	l := "STUDY"
	for _, k := range keys {
		name, _, _ := strings.Cut(k, "=")
		switch name {
		case "SeriesInstanceUID", "0020,000E":
			if l == "STUDY" {
				l = "SERIES"
			}
		case "SOPInstanceUID", "0008,0018":
			l = "IMAGE"
		}
	}
	return l
}
