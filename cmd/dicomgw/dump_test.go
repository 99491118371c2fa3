package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medrelay/medrelay/dicom"
)

func TestDump(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ct.dcm")
	item := dicom.NewDataSet(dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x1155}, "", "1.2.3.9"))
	ds := dicom.NewDataSet(
		dicom.NewString(dicom.SOPClassUIDTag, "", dicom.CTImageStorage),
		dicom.NewString(dicom.SOPInstanceUIDTag, "", "1.2.3.4"),
		dicom.NewString(dicom.Tag{Group: 0x0010, Element: 0x0010}, "", "Doe^John"),
		dicom.NewSequence(dicom.Tag{Group: 0x0008, Element: 0x1140}, item),
		dicom.NewUint16(dicom.Tag{Group: 0x0028, Element: 0x0010}, 512),
		dicom.NewBytes(dicom.PixelDataTag, dicom.OW, make([]byte, 100000)),
	)
	meta := dicom.FileMeta{MediaStorageSOPClassUID: dicom.CTImageStorage, MediaStorageSOPInstanceUID: "1.2.3.4",
		TransferSyntaxUID: dicom.ExplicitVRLittleEndian}
	if err := dicom.WriteFile(path, meta, ds); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := dumpTo(context.Background(), &out, []string{path}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"(0002,0010) UI TransferSyntaxUID",
		"(0008,0016) UI SOPClassUID                          [1.2.840.10008.5.1.4.1.1.2] CTImageStorage",
		"(0010,0010) PN PatientName                          [Doe^John]",
		"(0008,1140) SQ ReferencedImageSequence              (1 items)",
		"    (0008,1155) UI ReferencedSOPInstanceUID",
		"(0028,0010) US Rows                                 512",
		"(7FE0,0010) OW PixelData                            <100000 bytes, not read>",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dump lacks %q:\n%s", want, out.String())
		}
	}

	cut := filepath.Join(dir, "cut.dcm")
	b, _ := os.ReadFile(path)
	os.WriteFile(cut, b[:len(b)-10], 0o644)
	err := dumpTo(context.Background(), &out, []string{cut})
	if err == nil || !strings.Contains(err.Error(), cut) || !strings.Contains(err.Error(), "offset") {
		t.Errorf("truncated file: error = %v, want file name and offset", err)
	}
	if err := dumpTo(context.Background(), &out, nil); exitCode(err) != 2 {
		t.Errorf("no file: error = %v, want a usage error", err)
	}
}
