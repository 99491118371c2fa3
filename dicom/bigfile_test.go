package dicom

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// writeBigFile streams a multi-frame CT of frames 512x512 16-bit frames to
// path without holding the pixel data: native OW pixel data, or (when
// encapsulated) one fragment per frame. It returns the file size.
func writeBigFile(t testing.TB, path string, frames int, encapsulated bool) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	ts := ExplicitVRLittleEndian
	if encapsulated {
		ts = JPEGLosslessSV1
	}
	ds := sampleDataSet()
	ds.Remove(PixelDataTag)
	ds.Set(NewString(Tag{0x0028, 0x0008}, "", strconv.Itoa(frames)))
	ds.Set(NewUint16(rowsTag, 512))
	ds.Set(NewUint16(Tag{0x0028, 0x0011}, 512))
	if err := Write(w, sampleMeta(ts), ds); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 512*512*2)
	for i := range frame {
		frame[i] = byte(i)
	}
	le := binary.LittleEndian
	hdr := func(g, e uint16, vr string, n uint32) {
		b := le.AppendUint16(nil, g)
		b = le.AppendUint16(b, e)
		if vr != "" {
			b = append(b, vr[0], vr[1], 0, 0)
		}
		w.Write(le.AppendUint32(b, n))
	}
	if encapsulated {
		hdr(0x7FE0, 0x0010, "OB", UndefinedLength)
		hdr(0xFFFE, 0xE000, "", 0)
	} else {
		hdr(0x7FE0, 0x0010, "OW", uint32(frames*len(frame)))
	}
	for i := 0; i < frames; i++ {
		if encapsulated {
			hdr(0xFFFE, 0xE000, "", uint32(len(frame)))
		}
		w.Write(frame)
	}
	if encapsulated {
		hdr(0xFFFE, 0xE0DD, "", 0)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	return st.Size()
}

// allocated returns the bytes allocated while running fn.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestBigFileMemoryStaysFlat(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name         string
		frames       int
		encapsulated bool
	}{{"native 50 MB", 100, false}, {"encapsulated 20 MB", 40, true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "big.dcm")
			size := writeBigFile(t, path, tc.frames, tc.encapsulated)
			var meta FileMeta
			var err error
			n := allocated(func() {
				var idx *DataSet
				meta, idx, err = ReadFileIndex(path, SOPInstanceUIDTag, StudyInstanceUIDTag, Tag{0x0028, 0x0008})
				if err == nil && idx.String(StudyInstanceUIDTag) == "" {
					t.Errorf("StudyInstanceUID not indexed")
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if n > 1<<20 {
				t.Errorf("indexing a %d-byte file allocated %d bytes, want < 1 MiB", size, n)
			}
			// Dumping reads every element but skips the pixel data unread.
			n = allocated(func() { err = DumpFile(io.Discard, path) })
			if err != nil || n > 2<<20 {
				t.Errorf("dump of a %d-byte file: %v, allocated %d bytes", size, err, n)
			}
			// Copying the rest after the index streams the pixel data.
			n = allocated(func() {
				f, _ := os.Open(path)
				defer f.Close()
				_, rest, _ := ReadFileMeta(f)
				d := NewDecoder(rest, meta.TransferSyntaxUID, &ReadOptions{StopBefore: PixelDataTag, Offset: meta.DataSetOffset})
				if _, err := d.ReadDataSet(); err != nil {
					t.Error(err)
				}
				copied, _ := io.Copy(io.Discard, d.Rest())
				if got := d.Offset() + copied; got != size {
					t.Errorf("copied up to %d, file size %d", got, size)
				}
			})
			if n > 1<<20 {
				t.Errorf("copying the rest allocated %d bytes", n)
			}
		})
	}
}

// BenchmarkReadFileIndex indexes a 50 MB multi-frame file; the figure is
// per file and independent of the pixel data size, since parsing stops
// before it.
func BenchmarkReadFileIndex(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.dcm")
	size := writeBigFile(b, path, 100, false)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := ReadFileIndex(path, SOPInstanceUIDTag, StudyInstanceUIDTag, SeriesInstanceUIDTag, SOPClassUIDTag); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "file-MB")
}

// BenchmarkDecodeHeader parses the non-pixel attributes of an instance
// held in memory, reporting throughput over the bytes actually parsed.
func BenchmarkDecodeHeader(b *testing.B) {
	enc, err := Encode(sampleDataSet(), ExplicitVRLittleEndian)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeDataSet(enc, ExplicitVRLittleEndian); err != nil {
			b.Fatal(err)
		}
	}
}
