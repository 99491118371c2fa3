package dicom

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/medrelay/medrelay/internal/testenv"
)

// Tags used by the tests.
var (
	patientName  = Tag{0x0010, 0x0010}
	patientID    = Tag{0x0010, 0x0020}
	rowsTag      = Tag{0x0028, 0x0010}
	refImageSeq  = Tag{0x0008, 0x1140}
	refSOPInst   = Tag{0x0008, 0x1155}
	privateUN    = Tag{0x0009, 0x1010}
	windowCenter = Tag{0x0028, 0x1050}
)

// sampleDataSet builds a data set exercising most encodings: text with odd
// length, GB18030 bytes, binary numbers, AT, nested sequences, an
// undefined-length UN sequence and plain pixel data.
func sampleDataSet() *DataSet {
	inner := NewDataSet(NewString(refSOPInst, "", "1.2.3.4.5.6"))
	nested := NewDataSet(
		NewString(Tag{0x0008, 0x1150}, "", CTImageStorage),
		NewSequence(refImageSeq, inner),
	)
	return NewDataSet(
		NewString(SpecificCharacterSetTag, "", "GB18030"),
		NewString(SOPClassUIDTag, "", CTImageStorage),
		NewString(SOPInstanceUIDTag, "", "1.2.826.0.1.3680043.2.1125.1"),
		NewString(Tag{0x0008, 0x0060}, "", "CT"),
		NewBytes(patientName, PN, []byte("\xd5\xc5^\xc8\xfd")), // GB18030 "张^三", odd length
		NewString(patientID, "", "PID-0001"),
		NewString(StudyInstanceUIDTag, "", "1.2.826.0.1.3680043.2.1125.2"),
		NewString(SeriesInstanceUIDTag, "", "1.2.826.0.1.3680043.2.1125.3"),
		NewString(windowCenter, "", "40", "400"),
		NewTagValue(Tag{0x0028, 0x0009}, Tag{0x0018, 0x1063}),
		NewSequence(Tag{0x0008, 0x1199}, nested, NewDataSet()),
		NewUint16(rowsTag, 4),
		NewUint16(Tag{0x0028, 0x0011}, 2),
		NewUint16(Tag{0x0028, 0x0100}, 16),
		NewBytes(PixelDataTag, OW, []byte{1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0}),
	)
}

// sampleMeta returns meta information for sampleDataSet in syntax ts.
func sampleMeta(ts string) FileMeta {
	return FileMeta{
		MediaStorageSOPClassUID:    CTImageStorage,
		MediaStorageSOPInstanceUID: "1.2.826.0.1.3680043.2.1125.1",
		TransferSyntaxUID:          ts,
	}
}

// sampleFile returns sampleDataSet as Part 10 bytes in syntax ts.
func sampleFile(t testing.TB, ts string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, sampleMeta(ts), sampleDataSet()); err != nil {
		t.Fatalf("write sample: %v", err)
	}
	return buf.Bytes()
}

// needTool returns the path of a dcmtk tool. When it is missing the test
// fails under CI and is skipped elsewhere (internal/testenv).
func needTool(t testing.TB, name string) string {
	t.Helper()
	return testenv.Require(t, name)
}

// run runs a command and fails the test with its output on error.
func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(needTool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}
