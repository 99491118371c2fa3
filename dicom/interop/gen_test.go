package interop

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/medrelay/medrelay/dicom"
)

// Storage SOP classes the generated test data rotates through.
var testClasses = []string{
	"1.2.840.10008.5.1.4.1.1.2",     // CT
	"1.2.840.10008.5.1.4.1.1.4",     // MR
	"1.2.840.10008.5.1.4.1.1.7",     // secondary capture
	"1.2.840.10008.5.1.4.1.1.6.1",   // US
	"1.2.840.10008.5.1.4.1.1.1.1",   // digital X-ray
	"1.2.840.10008.5.1.4.1.1.128",   // PET
	"1.2.840.10008.5.1.4.1.1.481.1", // RT image
}

// privateClass is a private SOP class no dictionary knows (dcmtk's storescu
// refuses to send it; storescp accepts it only with --promiscuous).
const privateClass = "1.3.6.1.4.1.99999.42.1"

const testRoot = "1.2.826.0.1.3680043.99999"

type spec struct {
	class, ts         string
	study, patient    string
	rows, cols, frame int
}

// writeInstance writes one Part 10 file with our writer and returns its
// SOP instance UID.
func writeInstance(tb testing.TB, path string, s spec, n int) string {
	tb.Helper()
	inst := fmt.Sprintf("%s.%d.%d", s.study, os.Getpid()%1000, n)
	frames := max(s.frame, 1)
	pixels := make([]byte, s.rows*s.cols*2*frames)
	for i := range pixels {
		pixels[i] = byte(i*7 + n)
	}
	ds := dicom.NewDataSet(
		dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x0005}, dicom.CS, "ISO_IR 192"),
		dicom.NewString(dicom.SOPClassUIDTag, dicom.UI, s.class),
		dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI, inst),
		dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x0020}, dicom.DA, "20240131"),
		dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x0060}, dicom.CS, "OT"),
		dicom.NewString(dicom.Tag{Group: 0x0010, Element: 0x0010}, dicom.PN, "Test^Patient^Ünïcode"),
		dicom.NewString(dicom.Tag{Group: 0x0010, Element: 0x0020}, dicom.LO, s.patient),
		dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, s.study),
		dicom.NewString(dicom.SeriesInstanceUIDTag, dicom.UI, s.study+".1"),
		dicom.NewString(dicom.Tag{Group: 0x0020, Element: 0x0013}, dicom.IS, fmt.Sprint(n)),
		dicom.NewString(dicom.Tag{Group: 0x0028, Element: 0x0008}, dicom.IS, fmt.Sprint(frames)),
		dicom.NewUint16(dicom.Tag{Group: 0x0028, Element: 0x0010}, uint16(s.rows)),
		dicom.NewUint16(dicom.Tag{Group: 0x0028, Element: 0x0011}, uint16(s.cols)),
		dicom.NewUint16(dicom.Tag{Group: 0x0028, Element: 0x0100}, 16),
		dicom.NewBytes(dicom.PixelDataTag, dicom.OW, pixels),
	)
	meta := dicom.FileMeta{MediaStorageSOPClassUID: s.class, MediaStorageSOPInstanceUID: inst, TransferSyntaxUID: s.ts}
	if err := dicom.WriteFile(path, meta, ds); err != nil {
		tb.Fatal(err)
	}
	return inst
}

// genStudy writes n instances of one study into dir, rotating seven SOP classes
// and alternating implicit and explicit little endian.
func genStudy(tb testing.TB, dir, study string, n, rows, cols, frames int) []string {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var paths []string
	for i := 0; i < n; i++ {
		ts := dicom.ExplicitVRLittleEndian
		if i%2 == 1 {
			ts = dicom.ImplicitVRLittleEndian
		}
		p := filepath.Join(dir, fmt.Sprintf("img%05d.dcm", i))
		writeInstance(tb, p, spec{class: testClasses[i%len(testClasses)], ts: ts, study: study, patient: "PID-" + study[len(study)-2:],
			rows: rows, cols: cols, frame: frames}, i+1)
		paths = append(paths, p)
	}
	return paths
}

// dcmtkFiles makes files with dcmtk itself: a dump2dcm file in explicit
// little endian and an img2dcm JPEG baseline (compressed) file.
func dcmtkFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	need(tb, "dump2dcm", "img2dcm")
	dump := filepath.Join(dir, "mr.txt")
	text := `(0008,0016) UI =MRImageStorage
(0008,0018) UI [` + testRoot + `.77.1]
(0010,0010) PN [Dump^Two]
(0010,0020) LO [PID-DUMP]
(0020,000d) UI [` + testRoot + `.77]
(0020,000e) UI [` + testRoot + `.77.2]
(0028,0010) US 2
(0028,0011) US 2
(7fe0,0010) OW 0001\0002\0003\0004
`
	if err := os.WriteFile(dump, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	mr := filepath.Join(dir, "dump2dcm.dcm")
	mustRun(tb, "dump2dcm", "+te", dump, mr)
	os.Remove(dump)
	jpg := filepath.Join(dir, "photo.jpg")
	writeJPEG(tb, jpg)
	sc := filepath.Join(dir, "img2dcm.dcm")
	mustRun(tb, "img2dcm", "-k", "StudyInstanceUID="+testRoot+".78", "-k", "PatientID=PID-JPEG", jpg, sc)
	os.Remove(jpg)
	return []string{mr, sc}
}

func writeJPEG(tb testing.TB, path string) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, img, nil); err != nil {
		tb.Fatal(err)
	}
}
