package dicom

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// checkSample verifies the values of sampleDataSet after a read.
func checkSample(t *testing.T, ds *DataSet) {
	t.Helper()
	if got := ds.Find(patientName); got == nil || !bytes.Equal(got.Value, []byte("\xd5\xc5^\xc8\xfd ")) {
		t.Errorf("PatientName bytes = %q, want GB18030 bytes kept as sent (plus pad)", got.Value)
	}
	if got := ds.String(SOPInstanceUIDTag); got != "1.2.826.0.1.3680043.2.1125.1" {
		t.Errorf("SOPInstanceUID = %q", got)
	}
	if n, err := ds.Find(rowsTag).Int(); n != 4 || err != nil {
		t.Errorf("Rows = %d, %v", n, err)
	}
	seq := ds.Find(Tag{0x0008, 0x1199})
	if seq == nil || len(seq.Items) != 2 || len(seq.Items[1].Elements) != 0 {
		t.Fatalf("ReferencedSOPSequence = %+v", seq)
	}
	inner := seq.Items[0].Find(refImageSeq)
	if inner == nil || len(inner.Items) != 1 || inner.Items[0].String(refSOPInst) != "1.2.3.4.5.6" {
		t.Errorf("nested sequence = %+v", inner)
	}
	if got := ds.Find(PixelDataTag); got == nil || binary.LittleEndian.Uint16(got.Value[14:]) != 8 {
		t.Errorf("PixelData = %+v", got)
	}
	if got := ds.Find(windowCenter).Strings(); len(got) != 2 || got[1] != "400" {
		t.Errorf("WindowCenter = %q", got)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, ts := range []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian} {
		t.Run(syntaxOf(ts).Name, func(t *testing.T) {
			b := sampleFile(t, ts)
			f, err := Read(bytes.NewReader(b), nil)
			if err != nil {
				t.Fatal(err)
			}
			if f.Meta.TransferSyntaxUID != ts || f.Meta.MediaStorageSOPClassUID != CTImageStorage {
				t.Errorf("meta = %+v", f.Meta)
			}
			checkSample(t, f.DataSet)
			// Writing what was read gives the same bytes.
			var again bytes.Buffer
			if err := Write(&again, f.Meta, f.DataSet); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), b) {
				t.Errorf("second write differs from first (%d vs %d bytes)", again.Len(), len(b))
			}
		})
	}
}

func TestBigEndianRead(t *testing.T) {
	// Hand-made explicit VR big endian data set: US, OW, a sequence with a
	// defined length, and text.
	var b []byte
	be := binary.BigEndian
	elem := func(g, e uint16, vr string, v []byte) {
		b = be.AppendUint16(b, g)
		b = be.AppendUint16(b, e)
		b = append(b, vr...)
		if VR(vr).LongLength() {
			b = append(b, 0, 0)
			b = be.AppendUint32(b, uint32(len(v)))
		} else {
			b = be.AppendUint16(b, uint16(len(v)))
		}
		b = append(b, v...)
	}
	elem(0x0010, 0x0010, "PN", []byte("Doe^John"))
	// Sequence with one defined-length item holding a UI.
	var item []byte
	item = be.AppendUint16(item, 0x0008)
	item = be.AppendUint16(item, 0x1155)
	item = append(item, 'U', 'I', 0, 6)
	item = append(item, "1.2.3\x00"...)
	var seq []byte
	seq = be.AppendUint32(seq, 0xFFFEE000)
	seq = be.AppendUint32(seq, uint32(len(item)))
	seq = append(seq, item...)
	elem(0x0008, 0x1140, "SQ", seq)
	elem(0x0028, 0x0010, "US", []byte{0x01, 0x02})
	elem(0x7FE0, 0x0010, "OW", []byte{0x00, 0x01, 0x00, 0x02})

	ds, err := DecodeDataSet(b, ExplicitVRBigEndian)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := ds.Find(rowsTag).Int(); n != 0x0102 {
		t.Errorf("Rows = %#x, want 0x102", n)
	}
	if got := ds.Find(PixelDataTag).Value; !bytes.Equal(got, []byte{1, 0, 2, 0}) {
		t.Errorf("PixelData = % x, want words swapped to little endian", got)
	}
	if got := ds.Find(refImageSeq).Items[0].String(refSOPInst); got != "1.2.3" {
		t.Errorf("item UID = %q", got)
	}
	if _, err := Encode(ds, ExplicitVRBigEndian); err == nil {
		t.Errorf("encoding big endian succeeded, want ErrUnsupportedSyntax")
	}
}

func TestUndefinedLengthUNIsImplicitSequence(t *testing.T) {
	item := NewDataSet(NewString(patientID, "", "X1"), NewUint16(rowsTag, 9))
	un := &Element{Tag: privateUN, VR: UN, Items: []*DataSet{item}, Length: UndefinedLength}
	ds := NewDataSet(NewString(Tag{0x0009, 0x0010}, "", "ACME"), un)
	b, err := Encode(ds, ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	// Inside the UN the item's elements have no VR: (0010,0020) then length.
	if !bytes.Contains(b, []byte{0x10, 0x00, 0x20, 0x00, 2, 0, 0, 0, 'X', '1'}) {
		t.Fatalf("UN items not implicit VR: % x", b)
	}
	got, err := DecodeDataSet(b, ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	e := got.Find(privateUN)
	if e == nil || e.VR != UN || len(e.Items) != 1 || e.Items[0].String(patientID) != "X1" {
		t.Fatalf("UN = %+v", e)
	}
	if n, _ := e.Items[0].Find(rowsTag).Int(); n != 9 {
		t.Errorf("Rows in UN item = %d (VR from dictionary?)", n)
	}
}

func TestEncapsulatedPixelData(t *testing.T) {
	frag := NewFragments(PixelDataTag, nil, []byte{0xFF, 0xD8, 1, 2, 3}, []byte{0xFF, 0xD9})
	ds := NewDataSet(NewString(SOPInstanceUIDTag, "", "1.2.3"), frag)
	b, err := Encode(ds, JPEGBaseline8Bit)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeDataSet(b, JPEGBaseline8Bit)
	if err != nil {
		t.Fatal(err)
	}
	e := got.Find(PixelDataTag)
	if e == nil || len(e.Fragments) != 3 || len(e.Fragments[0].Value) != 0 {
		t.Fatalf("fragments = %+v", e)
	}
	if !bytes.Equal(e.Fragments[1].Value, []byte{0xFF, 0xD8, 1, 2, 3, 0}) {
		t.Errorf("fragment 1 = % x (want odd fragment padded with 0)", e.Fragments[1].Value)
	}
}

func TestUnknownVRAndImplicitElementInExplicit(t *testing.T) {
	var b []byte
	le := binary.LittleEndian
	// (0009,1010) with the unknown VR "ZZ": 2 reserved bytes, 4-byte length.
	b = le.AppendUint16(b, 0x0009)
	b = le.AppendUint16(b, 0x1010)
	b = append(b, 'Z', 'Z', 0, 0, 2, 0, 0, 0, 'o', 'k')
	// (0010,0020) written implicitly inside explicit data.
	b = le.AppendUint16(b, 0x0010)
	b = le.AppendUint16(b, 0x0020)
	b = le.AppendUint32(b, 4)
	b = append(b, "ID42"...)
	ds, err := DecodeDataSet(b, ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	if e := ds.Find(privateUN); e == nil || e.VR != "ZZ" || string(e.Value) != "ok" {
		t.Errorf("unknown VR element = %+v", e)
	}
	if e := ds.Find(patientID); e == nil || e.VR != LO || e.String() != "ID42" {
		t.Errorf("implicit element = %+v", e)
	}
	out, err := Encode(ds, ExplicitVRLittleEndian)
	if err != nil || !bytes.Contains(out, []byte("ZZ\x00\x00\x02\x00\x00\x00ok")) {
		t.Errorf("unknown VR not written back as read: %v % x", err, out)
	}
}

func TestMetaGroupLengthNotTrusted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length uint32
	}{{"too small", 10}, {"too large", 5000}, {"zero", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			b := sampleFile(t, ExplicitVRLittleEndian)
			binary.LittleEndian.PutUint32(b[140:], tc.length) // (0002,0000) value
			f, err := Read(bytes.NewReader(b), nil)
			if err != nil {
				t.Fatal(err)
			}
			checkSample(t, f.DataSet)
		})
	}
	t.Run("missing", func(t *testing.T) {
		b := sampleFile(t, ExplicitVRLittleEndian)
		b = append(b[:132:132], b[144:]...) // drop the 12-byte group length element
		f, err := Read(bytes.NewReader(b), nil)
		if err != nil {
			t.Fatal(err)
		}
		checkSample(t, f.DataSet)
	})
}

func TestReadFileMetaPositionsAtDataSet(t *testing.T) {
	var ds bytes.Buffer
	if err := EncodeDataSet(&ds, sampleDataSet(), ImplicitVRLittleEndian); err != nil {
		t.Fatal(err)
	}
	b := sampleFile(t, ImplicitVRLittleEndian)
	meta, rest, err := ReadFileMeta(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rest)
	if !bytes.Equal(got, ds.Bytes()) {
		t.Errorf("rest of file is not the encoded data set")
	}
	if meta.DataSetOffset != int64(len(b)-ds.Len()) {
		t.Errorf("DataSetOffset = %d, want %d", meta.DataSetOffset, len(b)-ds.Len())
	}
	if meta.ImplementationClassUID != ImplementationClassUID || meta.ImplementationVersionName != ImplementationVersionName {
		t.Errorf("implementation = %q %q", meta.ImplementationClassUID, meta.ImplementationVersionName)
	}
}

func TestWriteFileHeaderValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta FileMeta
	}{
		{"no syntax", FileMeta{MediaStorageSOPClassUID: "1.2", MediaStorageSOPInstanceUID: "1.3"}},
		{"no class", FileMeta{MediaStorageSOPInstanceUID: "1.3", TransferSyntaxUID: ImplicitVRLittleEndian}},
		{"long version", FileMeta{MediaStorageSOPClassUID: "1.2", MediaStorageSOPInstanceUID: "1.3",
			TransferSyntaxUID: ImplicitVRLittleEndian, ImplementationVersionName: "SEVENTEEN_CHARS_X"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := WriteFileHeader(io.Discard, tc.meta); err == nil {
				t.Errorf("WriteFileHeader accepted %+v", tc.meta)
			}
		})
	}
}

func TestStopBeforePixelDataAndCopyRest(t *testing.T) {
	var enc bytes.Buffer
	if err := EncodeDataSet(&enc, sampleDataSet(), ExplicitVRLittleEndian); err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(bytes.NewReader(enc.Bytes()), ExplicitVRLittleEndian, &ReadOptions{StopBefore: PixelDataTag})
	ds, err := d.ReadDataSet()
	if err != nil {
		t.Fatal(err)
	}
	if ds.Find(PixelDataTag) != nil || ds.Find(rowsTag) == nil {
		t.Fatalf("stop before pixel data: got %d elements", len(ds.Elements))
	}
	rest, _ := io.ReadAll(d.Rest())
	if !bytes.Equal(rest, enc.Bytes()[d.Offset():]) || !bytes.HasPrefix(rest, []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'W'}) {
		t.Errorf("Rest does not start at pixel data: % x", rest[:min(len(rest), 8)])
	}
}

func TestReadIndexSelectsTags(t *testing.T) {
	b := sampleFile(t, DeflatedExplicitVRLittleEndian)
	meta, rest, err := ReadFileMeta(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := ReadIndex(rest, meta.TransferSyntaxUID, SOPClassUIDTag, SOPInstanceUIDTag, StudyInstanceUIDTag)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Elements) != 3 || ds.String(StudyInstanceUIDTag) != "1.2.826.0.1.3680043.2.1125.2" {
		t.Errorf("index = %d elements, study %q", len(ds.Elements), ds.String(StudyInstanceUIDTag))
	}
}

func TestTeeIndexWhileWriting(t *testing.T) {
	var dsBytes bytes.Buffer
	if err := EncodeDataSet(&dsBytes, sampleDataSet(), ImplicitVRLittleEndian); err != nil {
		t.Fatal(err)
	}
	src := bytes.NewReader(dsBytes.Bytes())
	var file bytes.Buffer
	if err := WriteFileHeader(&file, sampleMeta(ImplicitVRLittleEndian)); err != nil {
		t.Fatal(err)
	}
	idx, err := ReadIndex(io.TeeReader(src, &file), ImplicitVRLittleEndian, StudyInstanceUIDTag)
	if err != nil || idx.String(StudyInstanceUIDTag) == "" {
		t.Fatalf("index: %v", err)
	}
	io.Copy(&file, src)
	if !bytes.Equal(file.Bytes(), sampleFile(t, ImplicitVRLittleEndian)) {
		t.Errorf("teed file differs from a written one")
	}
}
