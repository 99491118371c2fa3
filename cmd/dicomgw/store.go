package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
)

// instance is a file to send, as its meta group describes it.
type instance struct {
	path                  string
	sopClass, sopInst, ts string
}

func runStore(ctx context.Context, args []string) error {
	var p peerFlags
	fs := newFlagSet("store", "--host H --port P [--aet OURS] [--called THEIRS] PATH...")
	p.register(fs)
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	if len(paths) == 0 {
		return usageErrorf("store: no PATH given (want files or directories to send)")
	}
	files, bad := collect(paths)
	if len(files) == 0 {
		return fmt.Errorf("store: no DICOM file found in %v", paths)
	}
	ctxs, err := contextsFor(files)
	if err != nil {
		return err
	}
	c, err := dimse.Dial(ctx, p.addr(), ul.Request{CallingAE: p.aet, CalledAE: p.called, Contexts: ctxs}, p.options())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	sum := sendAll(ctx, c, files)
	if err := c.Close(); err != nil && sum.err == nil {
		sum.err = fmt.Errorf("store: release: %w", err)
	}
	sum.failed += bad
	fmt.Printf("summary: %d sent, %d succeeded, %d with warnings, %d failed, %.1f MB in %.2fs\n",
		sum.sent, sum.ok, sum.warn, sum.failed, float64(sum.bytes)/1e6, sum.elapsed.Seconds())
	if sum.err != nil {
		return sum.err
	}
	if sum.failed > 0 || sum.ok+sum.warn < len(files) {
		return errReported
	}
	return nil
}

// collect expands directories recursively and reads each file's meta.
// Files named on the command line that are not DICOM count as failures;
// such files found inside directories are skipped.
func collect(paths []string) ([]instance, int) {
	var out []instance
	bad := 0
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			fmt.Printf("FAILED %s: %v\n", root, err)
			bad++
			continue
		}
		if !info.IsDir() {
			in, err := readInstance(root)
			if err != nil {
				fmt.Printf("FAILED %s: %v\n", root, err)
				bad++
				continue
			}
			out = append(out, in)
			continue
		}
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			in, err := readInstance(path)
			if err != nil {
				fmt.Printf("SKIPPED %s: %v\n", path, err)
				return nil
			}
			out = append(out, in)
			return nil
		})
	}
	return out, bad
}

func readInstance(path string) (instance, error) {
	f, err := os.Open(path)
	if err != nil {
		return instance{}, err
	}
	defer f.Close()
	meta, _, err := dicom.ReadFileMeta(f)
	if err != nil {
		return instance{}, err
	}
	in := instance{path: path, sopClass: dicom.TrimUID(meta.MediaStorageSOPClassUID),
		sopInst: dicom.TrimUID(meta.MediaStorageSOPInstanceUID), ts: dicom.TrimUID(meta.TransferSyntaxUID)}
	if in.sopClass == "" || in.sopInst == "" || in.ts == "" {
		return instance{}, errors.New("meta group lacks SOP class, instance or transfer syntax")
	}
	return in, nil
}

// contextsFor proposes one context per SOP class and transfer syntax the
// files use, so that data sets can be sent as stored. For a class with
// files in implicit or explicit VR little endian it also proposes the
// other of the two, alone, in case the peer refuses the files' own: the
// client then transcodes those files while sending them. Compressed files
// are offered in their own syntax only (decompressing is out of scope).
func contextsFor(files []instance) ([]ul.PresentationContext, error) {
	type key struct{ class, ts string }
	seen := map[key]bool{}
	var out []ul.PresentationContext
	add := func(class, ts string) {
		if k := (key{class, ts}); !seen[k] {
			seen[k] = true
			out = append(out, ul.PresentationContext{AbstractSyntax: class, TransferSyntaxes: []string{ts}})
		}
	}
	for _, f := range files {
		add(f.sopClass, f.ts)
	}
	if len(out) > ul.MaxPresentationContexts {
		return nil, fmt.Errorf("store: the files need %d presentation contexts (SOP class and transfer syntax pairs); one association holds %d",
			len(out), ul.MaxPresentationContexts)
	}
	for _, f := range files { // alternatives, while there is room
		for _, alt := range []string{dicom.ExplicitVRLittleEndian, dicom.ImplicitVRLittleEndian} {
			if dicom.CanTranscode(f.ts, alt) && len(out) < ul.MaxPresentationContexts {
				add(f.sopClass, alt)
			}
		}
	}
	return out, nil
}

type summary struct {
	sent, ok, warn, failed int
	bytes                  int64
	elapsed                time.Duration
	err                    error
}

func sendAll(ctx context.Context, c *dimse.Client, files []instance) summary {
	var s summary
	start := time.Now()
	defer func() { s.elapsed = time.Since(start) }()
	for _, f := range files {
		if ctx.Err() != nil {
			s.err = ctx.Err()
			break
		}
		n, rsp, err := sendOne(ctx, c, f)
		s.sent++
		s.bytes += n
		switch {
		case err != nil && errors.Is(err, dimse.ErrNoContext):
			fmt.Printf("FAILED %s: %v\n", f.path, err)
			s.failed++
		case err != nil:
			fmt.Printf("FAILED %s: %v\n", f.path, err)
			s.failed++
			s.err = err // the association is gone
		case rsp.Status.Category() == dimse.Success:
			fmt.Printf("OK %s %s\n", f.path, f.sopInst)
			s.ok++
		case rsp.Status.Category() == dimse.Warning:
			fmt.Printf("WARNING %s %s: status %v %s\n", f.path, f.sopInst, rsp.Status, rsp.ErrorComment)
			s.warn++
		default:
			fmt.Printf("FAILED %s %s: status %v %s\n", f.path, f.sopInst, rsp.Status, rsp.ErrorComment)
			s.failed++
		}
		if s.err != nil {
			break
		}
	}
	s.elapsed = time.Since(start)
	return s
}

func sendOne(ctx context.Context, c *dimse.Client, in instance) (int64, *dimse.Command, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	meta, rest, err := dicom.ReadFileMeta(f)
	if err != nil {
		return 0, nil, err
	}
	size := st.Size() - meta.DataSetOffset
	rsp, err := c.Store(ctx, dimse.StoreRequest{SOPClassUID: in.sopClass, SOPInstanceUID: in.sopInst,
		TransferSyntax: in.ts, Data: io.LimitReader(rest, size), Size: size})
	return size, rsp, err
}
