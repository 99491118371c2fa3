package dicom

import (
	"bytes"
	"errors"
	"testing"
)

func TestTranscode(t *testing.T) {
	ds := sampleDataSet()
	tests := []struct{ from, to string }{
		{ExplicitVRLittleEndian, ImplicitVRLittleEndian},
		{ImplicitVRLittleEndian, ExplicitVRLittleEndian},
		{ExplicitVRLittleEndian, ExplicitVRLittleEndian},
	}
	for _, tc := range tests {
		t.Run(tc.from+" to "+tc.to, func(t *testing.T) {
			src, err := Encode(ds, tc.from)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Encode(ds, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := Transcode(&got, bytes.NewReader(src), tc.from, tc.to); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("transcoded data set differs from the encoder's:\ngot  %x\nwant %x", got.Bytes(), want)
			}
		})
	}
}

// TestTranscodeQuirks: defined-length sequences, group lengths, unknown and
// over-long attributes.
func TestTranscodeQuirks(t *testing.T) {
	le := func(v ...uint16) []byte {
		var b []byte
		for _, x := range v {
			b = append(b, byte(x), byte(x>>8))
		}
		return b
	}
	// Implicit VR LE, written by hand: a group length, a defined-length
	// sequence with a defined-length item, a private attribute and a
	// 70000-byte LO (too long for an explicit 2-byte length).
	long := bytes.Repeat([]byte("A"), 70000)
	var src []byte
	src = append(src, le(0x0008, 0x0000, 4, 0, 99, 0)...)                              // (0008,0000) UL, dropped
	src = append(src, le(0x0008, 0x1140, 18, 0, 0xFFFE, 0xE000, 10, 0)...)             // ReferencedImageSequence, item of 10
	src = append(src, le(0x0008, 0x1155, 2, 0)...)                                     // ReferencedSOPInstanceUID
	src = append(src, '1', 0)                                                          //
	src = append(src, le(0x0009, 0x1010, 4, 0)...)                                     // private, unknown: UN
	src = append(src, 1, 2, 3, 4)                                                      //
	src = append(src, le(0x0010, 0x1000, uint16(len(long)), uint16(len(long)>>16))...) // OtherPatientIDs, LO
	src = append(src, long...)
	var out bytes.Buffer
	if err := Transcode(&out, bytes.NewReader(src), ImplicitVRLittleEndian, ExplicitVRLittleEndian); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeDataSet(out.Bytes(), ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	if e := got.Find(Tag{0x0008, 0x0000}); e != nil {
		t.Errorf("group length kept: %v", e)
	}
	seq := got.Find(refImageSeq)
	if seq == nil || seq.VR != SQ || len(seq.Items) != 1 || TrimUID(seq.Items[0].String(refSOPInst)) != "1" {
		t.Fatalf("sequence %+v", seq)
	}
	if e := got.Find(privateUN); e == nil || e.VR != UN || !bytes.Equal(e.Value, []byte{1, 2, 3, 4}) {
		t.Errorf("private attribute %+v, want UN 01020304", e)
	}
	if e := got.Find(Tag{0x0010, 0x1000}); e == nil || e.VR != UN || len(e.Value) != len(long) {
		t.Errorf("long LO: %+v, want UN of %d bytes", e, len(long))
	}
	back := bytes.Buffer{}
	if err := Transcode(&back, bytes.NewReader(out.Bytes()), ExplicitVRLittleEndian, ImplicitVRLittleEndian); err != nil {
		t.Fatal(err)
	}
	again, err := DecodeDataSet(back.Bytes(), ImplicitVRLittleEndian)
	if err != nil || len(again.Elements) != 3 {
		t.Fatalf("back to implicit: %v, %d elements", err, len(again.Elements))
	}
}

func TestTranscodeErrors(t *testing.T) {
	src, _ := Encode(sampleDataSet(), ExplicitVRLittleEndian)
	tests := []struct {
		name      string
		src       []byte
		from, to  string
		wantError error
	}{
		{"compressed", src, JPEGBaseline8Bit, ExplicitVRLittleEndian, ErrUnsupportedSyntax},
		{"to big endian", src, ExplicitVRLittleEndian, ExplicitVRBigEndian, ErrUnsupportedSyntax},
		{"truncated value", src[:len(src)-3], ExplicitVRLittleEndian, ImplicitVRLittleEndian, ErrTruncated},
		{"truncated header", src[:len(src)-17], ExplicitVRLittleEndian, ImplicitVRLittleEndian, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Transcode(&out, bytes.NewReader(tc.src), tc.from, tc.to)
			if !errors.Is(err, tc.wantError) {
				t.Fatalf("error %v, want %v", err, tc.wantError)
			}
		})
	}
}
