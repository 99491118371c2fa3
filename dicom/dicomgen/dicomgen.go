// Package dicomgen writes synthetic DICOM studies for tests, benchmarks and
// the demo: Part 10 files made with medrelay's own dicom writer, in several
// series, with mixed storage SOP classes, multi-frame instances and JPEG
// baseline (encapsulated) pixel data.
//
// Every UID lies under Root (a test root, never a real device's), and every
// instance carries the same fake patient (PatientName, PatientID). The
// output is deterministic: the same Options (with the same StudyUID) write
// byte-identical files, so a test can regenerate a study to send it again.
//
// The package is for test data only: it does not make valid clinical
// images, only data sets that DICOM peers (dcmtk's storescu, storescp,
// dcmqrscp, dcmdump) accept and store.
package dicomgen

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/medrelay/medrelay/dicom"
)

// Root is the UID root every generated UID starts with.
const Root = "1.2.826.0.1.3680043.99999.9"

// The fake patient written into every instance.
const (
	PatientName = "TEST^GEN"
	PatientID   = "TESTGEN0001"
)

// Defaults for zero Options fields.
const (
	DefaultInstances     = 10
	DefaultSeries        = 1
	DefaultInstanceBytes = 4096
	DefaultFrames        = 8
)

// Classes are the storage SOP classes a Mixed study rotates through, with
// the modality each is written with.
var Classes = []struct{ UID, Modality string }{
	{dicom.CTImageStorage, "CT"},
	{dicom.MRImageStorage, "MR"},
	{dicom.SecondaryCaptureStorage, "OT"},
	{dicom.USImageStorage, "US"},
	{dicom.DXImageStorageForPresent, "DX"},
	{dicom.PETImageStorage, "PT"},
	{dicom.RTImageStorage, "RTIMAGE"},
}

// Options say what study to write. The zero value writes DefaultInstances
// CT instances of DefaultInstanceBytes in one series.
type Options struct {
	// StudyUID is the study's UID; empty makes a new one under Root.
	StudyUID string
	// Instances is the number of instances in the study, multi-frame and
	// JPEG ones included (default DefaultInstances).
	Instances int
	// Series is the number of series the instances are dealt into, round
	// robin (default DefaultSeries; at most Instances).
	Series int
	// InstanceBytes is the size of each uncompressed instance's pixel data
	// in bytes, rounded to whole 16-bit pixels (default
	// DefaultInstanceBytes). A JPEG instance's compressed data is smaller.
	InstanceBytes int
	// Mixed rotates the instances through Classes and alternates explicit
	// and implicit VR little endian; without it every single-frame
	// instance is CT in explicit VR little endian.
	Mixed bool
	// MultiFrame is the number of multi-frame instances (multi-frame
	// grayscale word secondary capture, Frames frames sharing
	// InstanceBytes).
	MultiFrame int
	// Frames is the number of frames of each multi-frame instance (default
	// DefaultFrames).
	Frames int
	// JPEG is the number of instances with JPEG baseline (1.2.840.10008.1.2.4.50)
	// encapsulated pixel data: 8-bit grayscale VL photographic images. The
	// class is one no uncompressed instance uses. dcmtk's storescu sends
	// them only with -xy (it proposes JPEG baseline beside the uncompressed
	// syntaxes), and storescp accepts them with +xa or +xy.
	JPEG int
	// Variant changes the pixel data (not the UIDs): files written with a
	// different Variant have the same UIDs and different content.
	Variant int
}

// File describes one written instance.
type File struct {
	Path           string
	SOPClassUID    string
	SOPInstanceUID string
	SeriesUID      string
	TransferSyntax string
	Frames         int
	Size           int64 // bytes of the whole Part 10 file
}

// Result describes a written study.
type Result struct {
	StudyUID string
	Series   []string // series instance UIDs, in order
	Files    []File   // in instance order
}

// Bytes returns the total size of the study's files.
func (r Result) Bytes() int64 {
	var n int64
	for _, f := range r.Files {
		n += f.Size
	}
	return n
}

var studySeq atomic.Uint64

// NewStudyUID returns a new study UID under Root, unique within and across
// processes on one machine (time, process id, counter).
func NewStudyUID() string {
	return fmt.Sprintf("%s.%d.%d.%d", Root, time.Now().UnixMilli(), os.Getpid(), studySeq.Add(1))
}

// Study writes a study into dir (created if missing) as files named
// series-S/imgNNNNN.dcm, and describes what it wrote.
func Study(dir string, o Options) (Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	r := Result{StudyUID: o.StudyUID}
	for s := range o.Series {
		r.Series = append(r.Series, fmt.Sprintf("%s.%d", o.StudyUID, s+1))
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprintf("series-%d", s+1)), 0o755); err != nil {
			return Result{}, fmt.Errorf("dicomgen: %w", err)
		}
	}
	for n := range o.Instances {
		inst := o.instance(n, r.Series[n%o.Series])
		path := filepath.Join(dir, fmt.Sprintf("series-%d", n%o.Series+1), fmt.Sprintf("img%05d.dcm", n+1))
		size, err := inst.write(path)
		if err != nil {
			return Result{}, fmt.Errorf("dicomgen: instance %d: %w", n+1, err)
		}
		r.Files = append(r.Files, File{
			Path: path, SOPClassUID: inst.class, SOPInstanceUID: inst.uid, SeriesUID: inst.series,
			TransferSyntax: inst.ts, Frames: inst.frames, Size: size,
		})
	}
	return r, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.StudyUID == "" {
		o.StudyUID = NewStudyUID()
	}
	if o.Instances == 0 {
		o.Instances = DefaultInstances
	}
	if o.Series == 0 {
		o.Series = DefaultSeries
	}
	if o.InstanceBytes == 0 {
		o.InstanceBytes = DefaultInstanceBytes
	}
	if o.Frames == 0 {
		o.Frames = DefaultFrames
	}
	switch {
	case o.Instances < 0 || o.Series < 0 || o.InstanceBytes < 0 || o.Frames < 0 || o.MultiFrame < 0 || o.JPEG < 0:
		return o, fmt.Errorf("dicomgen: negative count in options %+v", o)
	case o.MultiFrame+o.JPEG > o.Instances:
		return o, fmt.Errorf("dicomgen: MultiFrame (%d) + JPEG (%d) exceed Instances (%d)", o.MultiFrame, o.JPEG, o.Instances)
	case o.Series > o.Instances:
		return o, fmt.Errorf("dicomgen: Series (%d) exceeds Instances (%d)", o.Series, o.Instances)
	case len(o.StudyUID)+len(fmt.Sprintf(".%d.%d", o.Series, o.Instances)) > 64:
		return o, fmt.Errorf("dicomgen: StudyUID %q too long: instance UIDs would pass 64 characters", o.StudyUID)
	}
	return o, nil
}

// instance is one instance to write.
type instance struct {
	class, modality, uid, series, ts, study string
	number, frames, rows, cols              int
	jpeg                                    bool
	seed                                    int
}

// instance plans instance n (0-based): the last JPEG instances are JPEG, the
// MultiFrame before them multi-frame, the rest single-frame.
func (o Options) instance(n int, series string) instance {
	in := instance{
		uid: fmt.Sprintf("%s.%d", series, n+1), series: series, study: o.StudyUID,
		number: n + 1, frames: 1, ts: dicom.ExplicitVRLittleEndian,
		class: Classes[0].UID, modality: Classes[0].Modality, seed: n*31 + o.Variant*7919,
	}
	if o.Mixed {
		c := Classes[n%len(Classes)]
		in.class, in.modality = c.UID, c.Modality
		if n%2 == 1 {
			in.ts = dicom.ImplicitVRLittleEndian
		}
	}
	switch {
	case n >= o.Instances-o.JPEG:
		in.class, in.modality, in.ts, in.jpeg = dicom.VLPhotographicImageStorage, "XC", dicom.JPEGBaseline8Bit, true
		in.rows, in.cols = squareish(o.InstanceBytes)
	case n >= o.Instances-o.JPEG-o.MultiFrame:
		in.class, in.modality, in.frames = dicom.MultiFrameGrayWordSC, "OT", o.Frames
		in.rows, in.cols = squareish(max(o.InstanceBytes/o.Frames/2, 1))
	default:
		in.rows, in.cols = squareish(max(o.InstanceBytes/2, 1))
	}
	return in
}

// squareish returns rows and columns whose product is about pixels.
func squareish(pixels int) (rows, cols int) {
	cols = max(int(math.Sqrt(float64(pixels))), 1)
	cols = min(cols, 65535)
	rows = min(max(pixels/cols, 1), 65535)
	return rows, cols
}

func (in instance) write(path string) (int64, error) {
	ds, err := in.dataSet()
	if err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	meta := dicom.FileMeta{MediaStorageSOPClassUID: in.class, MediaStorageSOPInstanceUID: in.uid, TransferSyntaxUID: in.ts}
	if err := dicom.Write(bw, meta, ds); err != nil {
		f.Close()
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	return st.Size(), f.Close()
}

func (in instance) dataSet() (*dicom.DataSet, error) {
	str := func(g, e uint16, vr dicom.VR, v string) *dicom.Element {
		return dicom.NewString(dicom.Tag{Group: g, Element: e}, vr, v)
	}
	u16 := func(g, e uint16, v int) *dicom.Element {
		return dicom.NewUint16(dicom.Tag{Group: g, Element: e}, uint16(v))
	}
	ds := dicom.NewDataSet(
		str(0x0008, 0x0005, dicom.CS, "ISO_IR 192"),
		dicom.NewString(dicom.SOPClassUIDTag, dicom.UI, in.class),
		dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI, in.uid),
		str(0x0008, 0x0020, dicom.DA, "20240131"),
		str(0x0008, 0x0030, dicom.TM, "120000"),
		str(0x0008, 0x0050, dicom.SH, "GEN"+strconv.Itoa(in.number%1000)),
		str(0x0008, 0x0060, dicom.CS, in.modality),
		str(0x0010, 0x0010, dicom.PN, PatientName),
		str(0x0010, 0x0020, dicom.LO, PatientID),
		dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, in.study),
		dicom.NewString(dicom.SeriesInstanceUIDTag, dicom.UI, in.series),
		str(0x0020, 0x0010, dicom.SH, "1"),
		str(0x0020, 0x0011, dicom.IS, in.series[len(in.study)+1:]),
		str(0x0020, 0x0013, dicom.IS, strconv.Itoa(in.number)),
		u16(0x0028, 0x0002, 1),
		str(0x0028, 0x0004, dicom.CS, "MONOCHROME2"),
		u16(0x0028, 0x0010, in.rows),
		u16(0x0028, 0x0011, in.cols),
		u16(0x0028, 0x0103, 0),
	)
	if in.frames > 1 {
		ds.Set(str(0x0028, 0x0008, dicom.IS, strconv.Itoa(in.frames)))
	}
	if in.jpeg {
		data, err := in.jpegData()
		if err != nil {
			return nil, err
		}
		ds.Set(u16(0x0028, 0x0100, 8))
		ds.Set(u16(0x0028, 0x0101, 8))
		ds.Set(u16(0x0028, 0x0102, 7))
		ds.Set(dicom.NewFragments(dicom.PixelDataTag, nil, data))
		return ds, nil
	}
	ds.Set(u16(0x0028, 0x0100, 16))
	ds.Set(u16(0x0028, 0x0101, 16))
	ds.Set(u16(0x0028, 0x0102, 15))
	ds.Set(dicom.NewBytes(dicom.PixelDataTag, dicom.OW, in.pixels()))
	return ds, nil
}

// pixels returns 16-bit pixel data for all frames: a pattern that depends
// on the instance (and the variant), so no two instances are identical.
func (in instance) pixels() []byte {
	p := make([]byte, in.rows*in.cols*2*in.frames)
	for i := range p {
		p[i] = byte(i*7 + i>>9 + in.seed)
	}
	return p
}

// jpegData encodes an 8-bit grayscale gradient as a baseline JPEG, padded
// to even length as a fragment must be.
func (in instance) jpegData() ([]byte, error) {
	img := image.NewGray(image.Rect(0, 0, in.cols, in.rows))
	for y := range in.rows {
		for x := range in.cols {
			img.Pix[y*img.Stride+x] = byte(x + y*3 + in.seed)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	if b.Len()%2 == 1 {
		b.WriteByte(0)
	}
	return b.Bytes(), nil
}
