package dirstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
)

// FuzzStoreDataSet streams arbitrary data-set bytes through the store as
// the SCP does (the study UID parsed on the way to the file): it must not
// panic, and the file must hold exactly the bytes received, in the study's
// folder or in _no_study. Seeds are data sets in both uncompressed
// syntaxes, a deflated one and sequences, as senders produce them.
func FuzzStoreDataSet(f *testing.F) {
	ds := dicom.NewDataSet(
		dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x0005}, dicom.CS, "ISO_IR 192"),
		dicom.NewString(dicom.SOPClassUIDTag, dicom.UI, ct),
		dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI, "1.2.3.4"),
		dicom.NewSequence(dicom.Tag{Group: 0x0008, Element: 0x1140}, dicom.NewDataSet(
			dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x1155}, dicom.UI, "1.2.3.3"))),
		dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, "1.2.9"),
		dicom.NewBytes(dicom.PixelDataTag, dicom.OW, make([]byte, 64)),
	)
	syntaxes := []string{dicom.ImplicitVRLittleEndian, dicom.ExplicitVRLittleEndian, dicom.DeflatedExplicitVRLittleEndian}
	for i, ts := range syntaxes {
		b, err := dicom.Encode(ds, ts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(byte(i), b)
	}
	dir := f.TempDir()
	s, err := New(dir, &Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		ts := syntaxes[int(which)%len(syntaxes)]
		in := &dimse.IncomingStore{SOPClassUID: ct, SOPInstanceUID: "1.2.3.4", TransferSyntax: ts}
		st, err := s.Store(context.Background(), in, bytes.NewReader(b))
		if err != nil || st != dimse.StatusSuccess {
			t.Fatalf("store: %v %v", st, err)
		}
		study := noStudy
		if idx, err := dicom.ReadIndex(bytes.NewReader(b), ts, dicom.StudyInstanceUIDTag); err == nil {
			if u := dicom.TrimUID(idx.String(dicom.StudyInstanceUIDTag)); safeUID(u) {
				study = u
			}
		}
		path := filepath.Join(dir, study, "1.2.3.4.dcm")
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("stored file: %v", err)
		}
		os.Remove(path)
		var want bytes.Buffer
		dicom.WriteFileHeader(&want, dicom.FileMeta{MediaStorageSOPClassUID: ct, MediaStorageSOPInstanceUID: "1.2.3.4", TransferSyntaxUID: ts})
		want.Write(b)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("stored file of %d bytes, want header and the %d bytes sent", len(got), len(b))
		}
	})
}
