package dicom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// richFile is a Part 10 file with sequences, an undefined-length UN and
// encapsulated pixel data, in syntax ts.
func richFile(t testing.TB, ts string) []byte {
	t.Helper()
	ds := sampleDataSet()
	ds.Set(&Element{Tag: privateUN, VR: UN, Length: UndefinedLength,
		Items: []*DataSet{NewDataSet(NewString(patientID, "", "INNER"))}})
	if ts != ImplicitVRLittleEndian {
		ds.Set(NewFragments(PixelDataTag, []byte{0, 0, 0, 0}, []byte{0xFF, 0xD8, 0xFF, 0xD9}))
	}
	var buf bytes.Buffer
	if err := Write(&buf, sampleMeta(ts), ds); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTruncatedEverywhere(t *testing.T) {
	for _, ts := range []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, JPEGBaseline8Bit, DeflatedExplicitVRLittleEndian} {
		t.Run(syntaxOf(ts).Name, func(t *testing.T) {
			full := richFile(t, ts)
			for n := 0; n < len(full); n++ {
				_, err := Read(bytes.NewReader(full[:n]), nil)
				if err == nil {
					continue // cut at an element boundary: a shorter, valid data set
				}
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("cut at %d: error %v is not a *ParseError", n, err)
				}
				if pe.Offset > int64(n) && !syntaxOf(ts).Deflated {
					t.Fatalf("cut at %d: offset %d is past the end", n, pe.Offset)
				}
			}
		})
	}
}

func TestTruncatedInsideValueFails(t *testing.T) {
	full := richFile(t, ExplicitVRLittleEndian)
	// Cut inside the PatientID value.
	i := bytes.Index(full, []byte("PID-0001"))
	_, err := Read(bytes.NewReader(full[:i+3]), nil)
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrTruncated) {
		t.Fatalf("error = %v, want a ParseError wrapping ErrTruncated", err)
	}
	if pe.Tag != patientID || pe.Offset != int64(i-8) {
		t.Errorf("error at %v offset %d, want %v offset %d", pe.Tag, pe.Offset, patientID, i-8)
	}
}

func TestGarbledNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, ts := range []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, JPEGBaseline8Bit} {
		full := richFile(t, ts)
		for i := 0; i < 2000; i++ {
			b := bytes.Clone(full)
			for k := rng.Intn(4) + 1; k > 0; k-- {
				b[132+rng.Intn(len(b)-132)] = byte(rng.Intn(256))
			}
			_, err := Read(bytes.NewReader(b), nil)
			var pe *ParseError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
		}
	}
}

func TestFileErrorNamesFileAndOffset(t *testing.T) {
	full := richFile(t, ExplicitVRLittleEndian)
	path := filepath.Join(t.TempDir(), "cut.dcm")
	if err := os.WriteFile(path, full[:len(full)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "offset ") {
		t.Fatalf("error = %v, want the path and an offset", err)
	}
	_, _, err = ReadFileIndex(filepath.Join(t.TempDir(), "missing.dcm"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	notDICOM := filepath.Join(t.TempDir(), "x.dcm")
	os.WriteFile(notDICOM, bytes.Repeat([]byte{'x'}, 200), 0o644)
	if _, err := ReadFile(notDICOM, nil); !errors.Is(err, ErrNotPart10) || !strings.Contains(err.Error(), notDICOM) {
		t.Errorf("not DICOM: %v", err)
	}
}

func TestHugeDeclaredLengthDoesNotAllocate(t *testing.T) {
	le := binary.LittleEndian
	var b []byte
	b = le.AppendUint16(b, 0x0009)
	b = le.AppendUint16(b, 0x1010)
	b = append(b, 'O', 'B', 0, 0)
	b = le.AppendUint32(b, 900<<20) // 900 MB declared, 16 bytes present
	b = append(b, make([]byte, 16)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeDataSet(b, ExplicitVRLittleEndian)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("error = %v, want ErrTruncated", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("allocated %d bytes for a truncated 900 MB value", got)
	}
	le.PutUint32(b[8:], 0xFFFFFFF0)
	if _, err := DecodeDataSet(b, ExplicitVRLittleEndian); !errors.Is(err, ErrTooLarge) {
		t.Errorf("4 GB value: error = %v, want ErrTooLarge", err)
	}
}

func TestNestingLimit(t *testing.T) {
	ds := NewDataSet(NewString(patientID, "", "leaf"))
	for i := 0; i < maxDepth+1; i++ {
		ds = NewDataSet(NewSequence(refImageSeq, ds))
	}
	b, err := Encode(ds, ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeDataSet(b, ExplicitVRLittleEndian); !errors.Is(err, ErrTooLarge) {
		t.Errorf("error = %v, want ErrTooLarge for deep nesting", err)
	}
}

func TestMalformedStructures(t *testing.T) {
	le := binary.LittleEndian
	hdr := func(g, e uint16, vr string, n uint32) []byte {
		b := le.AppendUint16(nil, g)
		b = le.AppendUint16(b, e)
		if vr != "" {
			b = append(b, vr[0], vr[1], 0, 0)
		}
		return le.AppendUint32(b, n)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"item at top level", hdr(0xFFFE, 0xE000, "", 0), ErrMalformed},
		{"element inside sequence", cat(hdr(0x0008, 0x1140, "SQ", UndefinedLength), hdr(0x0010, 0x0010, "UN", 0)), ErrMalformed},
		{"item overruns sequence", cat(hdr(0x0008, 0x1140, "SQ", 8), hdr(0xFFFE, 0xE000, "", 4), []byte("abcd")), ErrMalformed},
		{"undefined fragment", cat(hdr(0x7FE0, 0x0010, "OB", UndefinedLength), hdr(0xFFFE, 0xE000, "", UndefinedLength)), ErrMalformed},
		{"unterminated sequence", hdr(0x0008, 0x1140, "SQ", UndefinedLength), ErrTruncated},
		{"stray bytes at end", []byte{1, 2}, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeDataSet(tt.in, ExplicitVRLittleEndian)
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}
