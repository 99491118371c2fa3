package dicom

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dumpText is a dump2dcm input with text in UTF-8, a nested sequence,
// several binary VRs and native pixel data.
const dumpText = `(0008,0005) CS [ISO_IR 192]
(0008,0016) UI =CTImageStorage
(0008,0018) UI [1.2.3.4.5]
(0010,0010) PN [张^三]
(0010,0020) LO [PID7]
(0008,1140) SQ (Sequence with explicit length #=2)
  (fffe,e000) na (Item with explicit length #=1)
    (0008,1155) UI [1.2.3.9]
  (fffe,e00d) na (ItemDelimitationItem)
  (fffe,e000) na (Item with explicit length #=2)
    (0008,1150) UI =MRImageStorage
    (0008,1155) UI [1.2.3.10]
  (fffe,e00d) na (ItemDelimitationItem)
(fffe,e0dd) na (SequenceDelimitationItem)
(0018,0050) DS [1.25]
(0018,9328) FD 3.5\-1
(0020,000d) UI [1.2.3.100]
(0028,0009) AT (0018,1063)
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 16
(0028,1052) DS [-1024 ]
(7fe0,0010) OW 0001\0002\0003\fffe
`

// dcmdumpDataSet runs dcmdump and returns the data set lines in a form
// that does not depend on the transfer syntax, on defined or undefined
// lengths, or on group length elements.
func dcmdumpDataSet(t *testing.T, path string) string {
	t.Helper()
	out := string(run(t, "dcmdump", "-q", path))
	_, ds, ok := strings.Cut(out, "# Dicom-Data-Set")
	if !ok {
		t.Fatalf("dcmdump %s: no data set section:\n%s", path, out)
	}
	seq := regexp.MustCompile(`\((Sequence|Item) with [^#]*#=(\d+)\)`)
	itemCount := regexp.MustCompile(`\(Item #=\d+\)`)
	comment := regexp.MustCompile(`\s+#\s*(u/l|\d+), \d+ \S+$`)
	var lines []string
	for _, l := range strings.Split(ds, "\n") {
		l = strings.TrimRight(l, " ")
		switch {
		case l == "", strings.HasPrefix(l, "# Used TransferSyntax"),
			strings.Contains(l, "(fffe,e00d)"), strings.Contains(l, "(fffe,e0dd)"),
			regexp.MustCompile(`^\s*\([0-9a-f]{4},0000\)`).MatchString(l):
			continue
		}
		l = seq.ReplaceAllString(l, "($1 #=$2)")
		// An item's count includes group lengths, which we drop.
		l = itemCount.ReplaceAllString(l, "(Item)")
		lines = append(lines, comment.ReplaceAllString(l, ""))
	}
	return strings.Join(lines, "\n")
}

func TestDcmtkFilesParse(t *testing.T) {
	needTool(t, "dump2dcm")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(dumpText), 0o644); err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name, ts string
		flags    []string
	}{
		{"implicit", ImplicitVRLittleEndian, []string{"+ti"}},
		{"implicit undefined lengths", ImplicitVRLittleEndian, []string{"+ti", "-e"}},
		{"explicit", ExplicitVRLittleEndian, []string{"+te"}},
		{"explicit group lengths", ExplicitVRLittleEndian, []string{"+te", "+g"}},
		{"big endian", ExplicitVRBigEndian, []string{"+tb"}},
		{"big endian undefined lengths", ExplicitVRBigEndian, []string{"+tb", "-e"}},
		{"deflated", DeflatedExplicitVRLittleEndian, []string{"+td"}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(v.name, " ", "_")+".dcm")
			run(t, "dump2dcm", append(v.flags, in, path)...)
			f, err := ReadFile(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if f.Meta.TransferSyntaxUID != v.ts {
				t.Errorf("transfer syntax = %s, want %s", f.Meta.TransferSyntaxUID, v.ts)
			}
			checkDumpValues(t, f.DataSet)
			// Our re-encoding must dump the same under dcmtk. From implicit
			// VR only implicit VR is compared: tags missing from our small
			// dictionary (here the FD) would become UN in explicit VR.
			targets := []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
			if v.ts == ImplicitVRLittleEndian {
				targets = []string{ImplicitVRLittleEndian}
			}
			for _, ts := range targets {
				ours := filepath.Join(dir, "ours.dcm")
				meta := f.Meta
				meta.TransferSyntaxUID = ts
				if err := WriteFile(ours, meta, f.DataSet); err != nil {
					t.Fatal(err)
				}
				if got, want := dcmdumpDataSet(t, ours), dcmdumpDataSet(t, path); got != want {
					t.Errorf("dcmdump of our %s copy differs:\n--- ours\n%s\n--- dcmtk\n%s", syntaxOf(ts).Name, got, want)
				}
			}
		})
	}
}

// checkDumpValues checks what dumpText holds.
func checkDumpValues(t *testing.T, ds *DataSet) {
	t.Helper()
	if got := ds.Find(patientName); got == nil || string(got.Value) != "张^三 " {
		t.Errorf("PatientName = %q, want UTF-8 bytes kept as sent", got.Value)
	}
	if got := ds.Find(PixelDataTag); got == nil || !bytes.Equal(got.Value, []byte{1, 0, 2, 0, 3, 0, 0xfe, 0xff}) {
		t.Errorf("PixelData = % x", got.Value)
	}
	if got := ds.Find(Tag{0x0018, 0x9328}); got == nil || float64At(got.Value[8:]) != -1 {
		t.Errorf("FD = %+v", got)
	}
	if got := ds.Find(Tag{0x0028, 0x0009}); got == nil || binary.LittleEndian.Uint16(got.Value[2:]) != 0x1063 {
		t.Errorf("AT = %+v", got)
	}
	seq := ds.Find(refImageSeq)
	if seq == nil || len(seq.Items) != 2 || seq.Items[1].String(refSOPInst) != "1.2.3.10" {
		t.Errorf("ReferencedImageSequence = %+v", seq)
	}
	if n, _ := ds.Find(Tag{0x0028, 0x1052}).Int(); n != -1024 {
		t.Errorf("RescaleIntercept = %d", n)
	}
}

func TestDcmtkReadsOurFiles(t *testing.T) {
	needTool(t, "dcmdump")
	dir := t.TempDir()
	ds := sampleDataSet()
	ds.Set(NewString(Tag{0x0009, 0x0010}, "", "ACME 1.0"))
	ds.Set(&Element{Tag: privateUN, VR: UN, Length: UndefinedLength,
		Items: []*DataSet{NewDataSet(NewString(patientID, "", "INNER"))}})
	for _, ts := range []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian} {
		t.Run(syntaxOf(ts).Name, func(t *testing.T) {
			path := filepath.Join(dir, "ours.dcm")
			if err := WriteFile(path, sampleMeta(ts), ds); err != nil {
				t.Fatal(err)
			}
			out := string(run(t, "dcmdump", "-q", "+L", path))
			for _, want := range []string{
				"(0010,0020) LO [PID-0001]",
				"(0008,0018) UI [1.2.826.0.1.3680043.2.1125.1]",
				"(0028,0010) US 4",
				"(0008,1155) UI [1.2.3.4.5.6]",
				`(0028,1050) DS [40\400]`,
				"(0010,0020) LO [INNER]",
				"(7fe0,0010) OW 0001\\0002\\0003",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("dcmdump output lacks %q:\n%s", want, out)
				}
			}
			// dcmconv re-encodes it and we read dcmtk's version back.
			conv := filepath.Join(dir, "conv.dcm")
			run(t, "dcmconv", "+te", path, conv)
			f, err := ReadFile(conv, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkSample(t, f.DataSet)
		})
	}
}

func TestImg2dcmEncapsulated(t *testing.T) {
	needTool(t, "img2dcm")
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(3, 3, color.Gray{Y: 255})
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	in, path := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "img.dcm")
	if err := os.WriteFile(in, jpg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "img2dcm", "-k", "PatientID=JPEG1", in, path)

	f, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta.TransferSyntaxUID != JPEGBaseline8Bit {
		t.Errorf("transfer syntax = %s", f.Meta.TransferSyntaxUID)
	}
	px := f.DataSet.Find(PixelDataTag)
	if px == nil || len(px.Fragments) < 2 {
		t.Fatalf("pixel data = %+v", px)
	}
	frame := px.Fragments[1].Value
	if !bytes.Equal(frame[:len(jpg.Bytes())], jpg.Bytes()) {
		t.Errorf("first fragment is not the JPEG stream (%d bytes vs %d)", len(frame), jpg.Len())
	}
	meta, idx, err := ReadFileIndex(path, SOPInstanceUIDTag, patientID)
	if err != nil || idx.String(patientID) != "JPEG1" || idx.String(SOPInstanceUIDTag) != meta.MediaStorageSOPInstanceUID {
		t.Errorf("index = %+v, %v", idx, err)
	}
	ours := filepath.Join(dir, "ours.dcm")
	if err := WriteFile(ours, f.Meta, f.DataSet); err != nil {
		t.Fatal(err)
	}
	if got, want := dcmdumpDataSet(t, ours), dcmdumpDataSet(t, path); got != want {
		t.Errorf("dcmdump of our copy differs:\n--- ours\n%s\n--- dcmtk\n%s", got, want)
	}
}
