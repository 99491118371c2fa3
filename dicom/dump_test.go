package dicom

import (
	"bytes"
	"strings"
	"testing"
)

func TestFormatValue(t *testing.T) {
	tests := []struct {
		name string
		e    *Element
		want string
	}{
		{"UTF-8 text kept", NewString(patientName, "", "张^三"), "[张^三]"},
		{"GB18030 bytes escaped", NewBytes(patientName, PN, []byte("\xd5\xc5^\xc8\xfd")), `[\xd5\xc5^\xc8\xfd]`},
		{"UID named", NewString(SOPClassUIDTag, "", CTImageStorage+"\x00"), "[" + CTImageStorage + "] CTImageStorage"},
		{"US multi", NewUint16(rowsTag, 1, 2), `1\2`},
		{"AT", NewTagValue(Tag{0x0028, 0x0009}, PixelDataTag), "(7FE0,0010)"},
		{"OB short", NewBytes(privateUN, OB, []byte{0, 1}), `00\01`},
		{"OW short", NewBytes(PixelDataTag, OW, []byte{1, 0, 0xff, 0xff}), `0001\ffff`},
		{"OB long", NewBytes(privateUN, OB, make([]byte, 100)), "<100 bytes>"},
		{"skipped", &Element{Tag: PixelDataTag, VR: OW, Length: 1 << 30, Skipped: true}, "<1073741824 bytes, not read>"},
		{"long text cut", NewString(Tag{0x0020, 0x4000}, "", strings.Repeat("a", 300)), "... (300 bytes)"},
		{"many numbers", NewUint16(rowsTag, make([]uint16, 40)...), "... (40 values)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatValue(tt.e); !strings.HasSuffix(got, tt.want) {
				t.Errorf("formatValue = %q, want suffix %q", got, tt.want)
			}
		})
	}
}

func TestDumpFragments(t *testing.T) {
	ds := NewDataSet(NewFragments(PixelDataTag, nil, []byte{1, 2}, []byte{3, 4}))
	var out bytes.Buffer
	if err := Dump(&out, ds); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(3 fragments incl. offset table)") || strings.Count(out.String(), "\n") != 4 {
		t.Errorf("dump:\n%s", out.String())
	}
}
