package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/medrelay/medrelay/dicom"
)

// runDump implements `dicomgw dump FILE...`: it prints each file's meta group
// and data set, one attribute per line (tag, VR, keyword, value), like
// dcmdump. Pixel data and other long values are summarized, not read.
func runDump(ctx context.Context, args []string) error {
	return dumpTo(ctx, os.Stdout, args)
}

func dumpTo(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("dump", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: dicomgw dump FILE...")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageErrorf("dump: no file given")
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	for _, path := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if fs.NArg() > 1 {
			fmt.Fprintf(w, "# %s\n", path)
		}
		if err := dicom.DumpFile(w, path); err != nil {
			return err
		}
	}
	return w.Flush()
}
