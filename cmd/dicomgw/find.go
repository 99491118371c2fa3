package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
)

func runFind(ctx context.Context, args []string) error {
	var p peerFlags
	var keys keyList
	fs := newFlagSet("find", "--host H --port P [--aet] [--called] --level STUDY|SERIES|IMAGE -k TAG=VALUE...")
	p.register(fs)
	level := fs.String("level", "STUDY", "query level: STUDY, SERIES or IMAGE (PATIENT with --model patient)")
	model := fs.String("model", "study", "information model: study (study root) or patient (patient root)")
	fs.Var(&keys, "k", "query key TAG=VALUE, repeatable (PatientID=X or 0010,0020=X; empty value = return key)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("find: unexpected argument %q (keys go in -k TAG=VALUE)", pos[0])
	}
	if err := p.check(); err != nil {
		return err
	}
	lvl, err := checkLevel(*level)
	if err != nil {
		return err
	}
	sop, err := findModel(*model)
	if err != nil {
		return err
	}
	query, err := buildQuery(lvl, keys, true)
	if err != nil {
		return err
	}
	c, err := dimse.Dial(ctx, p.addr(), ul.Request{CallingAE: p.aet, CalledAE: p.called, Contexts: queryContexts(sop)}, p.options())
	if err != nil {
		return fmt.Errorf("find: %w", err)
	}
	id, ts, err := encodeQuery(c, sop, query)
	if err != nil {
		c.Assoc().Abort()
		return fmt.Errorf("find: %w", err)
	}
	n := 0
	err = c.Find(ctx, dimse.Query{SOPClassUID: sop, Identifier: id}, func(b []byte) error {
		n++
		return printMatch(b, ts)
	})
	if err != nil {
		c.Assoc().Abort()
		return err
	}
	fmt.Fprintf(os.Stderr, "find: %d matches\n", n)
	return c.Close()
}

func findModel(model string) (string, error) {
	switch model {
	case "study":
		return dimse.StudyRootFind, nil
	case "patient":
		return dimse.PatientRootFind, nil
	}
	return "", usageErrorf("invalid --model %q (want study or patient)", model)
}

// printMatch prints one identifier as a JSON object keyed by keyword, in
// tag order; multi-valued attributes become arrays.
func printMatch(b []byte, ts string) error {
	ds, err := dicom.DecodeDataSet(b, ts)
	if err != nil {
		return fmt.Errorf("find: decode match: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for _, e := range ds.Elements {
		if e.IsSequence() || e.Tag.IsGroupLength() {
			continue
		}
		key := dicom.Keyword(e.Tag)
		if key == "" {
			key = fmt.Sprintf("%04X,%04X", e.Tag.Group, e.Tag.Element)
		}
		var v any = e.String()
		if vs := e.Strings(); len(vs) > 1 && e.VR.IsText() {
			v = vs
		}
		if !e.VR.IsText() {
			if n, err := e.Int(); err == nil {
				v = n
			}
		}
		k, _ := json.Marshal(key)
		val, _ := json.Marshal(v)
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteString("}\n")
	_, err = os.Stdout.Write(buf.Bytes())
	return err
}
