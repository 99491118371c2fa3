package dirstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
)

const ct = "1.2.840.10008.5.1.4.1.1.7"

func dataSet(t *testing.T, study string, pixels int) []byte {
	t.Helper()
	ds := dicom.NewDataSet(
		dicom.NewString(dicom.SOPClassUIDTag, dicom.UI, ct),
		dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI, "1.2.3.4"),
		dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, study),
		dicom.NewBytes(dicom.PixelDataTag, dicom.OW, make([]byte, pixels)),
	)
	b, err := dicom.Encode(ds, dicom.ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("association aborted")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestStoreWritesPart10(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := dataSet(t, "1.2.9", 10000)
	in := &dimse.IncomingStore{CallingAE: "X", SOPClassUID: ct, SOPInstanceUID: "1.2.3.4", TransferSyntax: dicom.ExplicitVRLittleEndian}
	st, err := s.Store(context.Background(), in, bytes.NewReader(data))
	if err != nil || st != dimse.StatusSuccess {
		t.Fatalf("store: %v %v", st, err)
	}
	f, err := os.Open(filepath.Join(dir, "1.2.9", "1.2.3.4.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, rest, err := dicom.ReadFileMeta(f)
	if err != nil {
		t.Fatal(err)
	}
	if meta.MediaStorageSOPInstanceUID != "1.2.3.4" || meta.TransferSyntaxUID != dicom.ExplicitVRLittleEndian {
		t.Fatalf("meta %+v", meta)
	}
	got, _ := io.ReadAll(rest)
	if !bytes.Equal(got, data) {
		t.Fatalf("data set differs: %d bytes, want %d", len(got), len(data))
	}
}

func TestAbortedTransferLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s, _ := New(dir, nil)
	data := dataSet(t, "1.2.9", 1<<20)
	in := &dimse.IncomingStore{SOPClassUID: ct, SOPInstanceUID: "1.2.3.4", TransferSyntax: dicom.ExplicitVRLittleEndian}
	if _, err := s.Store(context.Background(), in, &failingReader{bytes.NewReader(data), 300000}); err == nil {
		t.Fatal("store succeeded on a failing stream")
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("files left behind: %v", files)
	}
}

func TestUnsafeUIDRefused(t *testing.T) {
	s, _ := New(t.TempDir(), nil)
	in := &dimse.IncomingStore{SOPClassUID: ct, SOPInstanceUID: "../../x", TransferSyntax: dicom.ExplicitVRLittleEndian}
	if st, err := s.Store(context.Background(), in, bytes.NewReader(nil)); err == nil || st == dimse.StatusSuccess {
		t.Fatalf("unsafe UID stored: %v %v", st, err)
	}
}
