package dicom

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseTag(t *testing.T) {
	tests := []struct {
		in   string
		want Tag
		err  bool
	}{
		{"PatientID", patientID, false},
		{"0010,0020", patientID, false},
		{"(0010,0020)", patientID, false},
		{"00100020", patientID, false},
		{"7fe0,0010", PixelDataTag, false},
		{"NoSuchKeyword", Tag{}, true},
		{"0010,002", Tag{}, true},
		{"zzzz,0010", Tag{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTag(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseTag(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if err != nil && !errors.Is(err, ErrUnknownTag) {
				t.Errorf("error %v is not ErrUnknownTag", err)
			}
			if got != tt.want {
				t.Errorf("ParseTag(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDictionary(t *testing.T) {
	tests := []struct {
		keyword string
		tag     Tag
		vr      VR
	}{
		{"CommandGroupLength", Tag{0x0000, 0x0000}, UL},
		{"CommandField", Tag{0x0000, 0x0100}, US},
		{"NumberOfRemainingSuboperations", Tag{0x0000, 0x1020}, US},
		{"MoveDestination", Tag{0x0000, 0x0600}, AE},
		{"TransferSyntaxUID", Tag{0x0002, 0x0010}, UI},
		{"SpecificCharacterSet", Tag{0x0008, 0x0005}, CS},
		{"QueryRetrieveLevel", Tag{0x0008, 0x0052}, CS},
		{"PatientName", patientName, PN},
		{"StudyInstanceUID", StudyInstanceUIDTag, UI},
		{"NumberOfStudyRelatedInstances", Tag{0x0020, 0x1208}, IS},
		{"PixelData", PixelDataTag, OW},
	}
	for _, tt := range tests {
		t.Run(tt.keyword, func(t *testing.T) {
			e, ok := LookupKeyword(tt.keyword)
			if !ok || e.Tag != tt.tag || e.VR != tt.vr {
				t.Fatalf("LookupKeyword(%q) = %+v, %v; want tag %v VR %s", tt.keyword, e, ok, tt.tag, tt.vr)
			}
			if got := Keyword(tt.tag); got != tt.keyword {
				t.Errorf("Keyword(%v) = %q, want %q", tt.tag, got, tt.keyword)
			}
		})
	}
	if e, ok := LookupTag(Tag{0x0009, 0x0010}); !ok || e.VR != LO {
		t.Errorf("private creator: got %+v, %v", e, ok)
	}
	if e, ok := LookupTag(Tag{0x0018, 0x0000}); !ok || e.VR != UL {
		t.Errorf("group length: got %+v, %v", e, ok)
	}
	if _, ok := LookupTag(Tag{0x0009, 0x1010}); ok {
		t.Errorf("private data element found in dictionary")
	}
}

func TestUIDTables(t *testing.T) {
	ts, ok := LookupTransferSyntax("1.2.840.10008.1.2.1.99\x00")
	if !ok || !ts.Deflated {
		t.Errorf("deflated syntax: %+v, %v", ts, ok)
	}
	if ts, ok := LookupTransferSyntax(JPEGBaseline8Bit + " "); !ok || !ts.Encapsulated {
		t.Errorf("JPEG baseline: %+v, %v", ts, ok)
	}
	if c, ok := LookupSOPClass(StudyRootQRMove); !ok || c.Storage {
		t.Errorf("study root move: %+v, %v", c, ok)
	}
	if len(StorageSOPClasses()) < 20 {
		t.Errorf("only %d storage classes", len(StorageSOPClasses()))
	}
	u := NewUID()
	if len(u) > 64 || u[:5] != "2.25." || u == NewUID() {
		t.Errorf("NewUID() = %q", u)
	}
	if len(ImplementationVersionName) > 16 || len(ImplementationClassUID) > 64 {
		t.Errorf("implementation identity too long")
	}
}

func TestElementAccessors(t *testing.T) {
	tests := []struct {
		name string
		e    *Element
		str  string
		n    int64
	}{
		{"US", NewUint16(rowsTag, 512, 3), "", 512},
		{"UL", NewUint32(Tag{0x0000, 0x0000}, 70000), "", 70000},
		{"IS", NewString(Tag{0x0020, 0x0013}, "", " 12 "), "12", 12},
		{"UI padded with NUL", NewBytes(SOPClassUIDTag, UI, []byte("1.2.3\x00")), "1.2.3", 0},
		{"UI padded with space", NewBytes(SOPClassUIDTag, UI, []byte("1.2.3 ")), "1.2.3", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.e.VR.IsText() {
				if got := tt.e.String(); got != tt.str {
					t.Errorf("String() = %q, want %q", got, tt.str)
				}
			}
			if tt.n != 0 {
				got, err := tt.e.Int()
				if err != nil || got != tt.n {
					t.Errorf("Int() = %d, %v; want %d", got, err, tt.n)
				}
			}
		})
	}
	ws := NewString(windowCenter, "", "40", "400").Strings()
	if len(ws) != 2 || ws[1] != "400" {
		t.Errorf("Strings() = %q", ws)
	}
	var missing *Element
	if _, err := missing.Int(); !errors.Is(err, ErrMissing) {
		t.Errorf("nil element Int() error = %v", err)
	}
}

func TestDataSetSetKeepsTagOrder(t *testing.T) {
	ds := NewDataSet(NewString(patientID, "", "b"), NewUint16(rowsTag, 1), NewString(SOPClassUIDTag, "", "x"))
	ds.Set(NewString(patientID, "", "c"))
	var got []Tag
	for _, e := range ds.Elements {
		got = append(got, e.Tag)
	}
	want := []Tag{SOPClassUIDTag, patientID, rowsTag}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("order = %v, want %v", got, want)
	}
	if ds.String(patientID) != "c" {
		t.Errorf("Set did not replace: %q", ds.String(patientID))
	}
	ds.Remove(rowsTag)
	if ds.Find(rowsTag) != nil {
		t.Errorf("Remove left the element")
	}
}

func TestEncodeCommand(t *testing.T) {
	cmd := NewDataSet(
		NewString(Tag{0x0000, 0x0002}, "", VerificationSOPClass),
		NewUint16(Tag{0x0000, 0x0100}, 0x0030),
		NewUint16(Tag{0x0000, 0x0110}, 7),
		NewUint16(Tag{0x0000, 0x0800}, 0x0101),
	)
	b, err := EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	// (0000,0000) UL 4 then the length of everything after it.
	if !bytes.Equal(b[:8], []byte{0, 0, 0, 0, 4, 0, 0, 0}) {
		t.Fatalf("header = % x", b[:8])
	}
	if got, want := int(b[8])|int(b[9])<<8, len(b)-12; got != want {
		t.Errorf("group length = %d, want %d", got, want)
	}
	ds, err := DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := ds.Find(Tag{0x0000, 0x0100}).Int(); n != 0x0030 {
		t.Errorf("CommandField = %#x", n)
	}
	if got := ds.String(Tag{0x0000, 0x0002}); got != VerificationSOPClass {
		t.Errorf("AffectedSOPClassUID = %q (padding not trimmed?)", got)
	}
	if len(ds.Elements[0].Value)%2 != 0 || len(b)%2 != 0 {
		t.Errorf("odd lengths in command")
	}
}
