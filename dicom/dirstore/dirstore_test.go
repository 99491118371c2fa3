package dirstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
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

// modes are the two ways of creating files; every test runs in both.
var modes = []struct {
	name string
	opts Options
}{
	{"tmpfile", Options{}},
	{"incoming", Options{NoTmpFile: true}},
}

func newStore(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// filesIn lists the regular files under dir (leftovers included).
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	return files
}

func storeOK(t *testing.T, s *Store, sop string, data []byte) {
	t.Helper()
	in := &dimse.IncomingStore{CallingAE: "X", SOPClassUID: ct, SOPInstanceUID: sop, TransferSyntax: dicom.ExplicitVRLittleEndian}
	st, err := s.Store(context.Background(), in, bytes.NewReader(data))
	if err != nil || st != dimse.StatusSuccess {
		t.Fatalf("store: %v %v", st, err)
	}
}

func dataSetIn(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, rest, err := dicom.ReadFileMeta(f)
	if err != nil {
		t.Fatal(err)
	}
	if meta.TransferSyntaxUID != dicom.ExplicitVRLittleEndian || meta.SourceApplicationEntityTitle != "X" {
		t.Fatalf("meta %+v", meta)
	}
	got, err := io.ReadAll(rest)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestStore(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Run("writes Part 10", func(t *testing.T) {
				s, dir := newStore(t, m.opts)
				data := dataSet(t, "1.2.9", 10000)
				storeOK(t, s, "1.2.3.4", data)
				path := filepath.Join(dir, "1.2.9", "1.2.3.4.dcm")
				if got := dataSetIn(t, path); !bytes.Equal(got, data) {
					t.Fatalf("data set differs: %d bytes, want %d", len(got), len(data))
				}
				if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o077 != 0 {
					t.Fatalf("file mode %v (%v): patient data must be private to the owner", st.Mode(), err)
				}
			})
			t.Run("resend replaces", func(t *testing.T) {
				s, dir := newStore(t, m.opts)
				storeOK(t, s, "1.2.3.4", dataSet(t, "1.2.9", 100))
				second := dataSet(t, "1.2.9", 200)
				storeOK(t, s, "1.2.3.4", second)
				if got := dataSetIn(t, filepath.Join(dir, "1.2.9", "1.2.3.4.dcm")); !bytes.Equal(got, second) {
					t.Fatal("second version did not replace the first")
				}
				if got, want := filesIn(t, dir), []string{filepath.Join("1.2.9", "1.2.3.4.dcm")}; len(got) != 1 || got[0] != want[0] {
					t.Fatalf("files %v, want %v", got, want)
				}
			})
			t.Run("unparsable data set kept under _no_study", func(t *testing.T) {
				s, dir := newStore(t, m.opts)
				garbage := []byte{0x08, 0x00, 0x16, 0x00, 'U', 'I', 0xff, 0xff, 1, 2}
				storeOK(t, s, "1.2.3.5", garbage)
				if got := dataSetIn(t, filepath.Join(dir, noStudy, "1.2.3.5.dcm")); !bytes.Equal(got, garbage) {
					t.Fatalf("got %x, want %x", got, garbage)
				}
			})
			t.Run("study folder removed under us", func(t *testing.T) {
				s, dir := newStore(t, m.opts)
				storeOK(t, s, "1.2.3.4", dataSet(t, "1.2.9", 100))
				if err := os.RemoveAll(filepath.Join(dir, "1.2.9")); err != nil {
					t.Fatal(err)
				}
				storeOK(t, s, "1.2.3.6", dataSet(t, "1.2.9", 100))
				if _, err := os.Stat(filepath.Join(dir, "1.2.9", "1.2.3.6.dcm")); err != nil {
					t.Fatal(err)
				}
			})
			for _, cut := range []int{0, 40, 300000} {
				t.Run(fmt.Sprintf("aborted after %d bytes leaves nothing", cut), func(t *testing.T) {
					s, dir := newStore(t, m.opts)
					data := dataSet(t, "1.2.9", 1<<20)
					in := &dimse.IncomingStore{SOPClassUID: ct, SOPInstanceUID: "1.2.3.4", TransferSyntax: dicom.ExplicitVRLittleEndian}
					if _, err := s.Store(context.Background(), in, &failingReader{bytes.NewReader(data), cut}); err == nil {
						t.Fatal("store succeeded on a failing stream")
					}
					if files := filesIn(t, dir); len(files) != 0 {
						t.Fatalf("files left behind: %v", files)
					}
				})
			}
		})
	}
}

func TestUnsafeUIDRefused(t *testing.T) {
	s, _ := New(t.TempDir(), nil)
	in := &dimse.IncomingStore{SOPClassUID: ct, SOPInstanceUID: "../../x", TransferSyntax: dicom.ExplicitVRLittleEndian}
	if st, err := s.Store(context.Background(), in, bytes.NewReader(nil)); err == nil || st == dimse.StatusSuccess {
		t.Fatalf("unsafe UID stored: %v %v", st, err)
	}
}

// BenchmarkStore measures one 0.5 MB instance stored and synced, the
// per-instance cost of the SCP without the network.
func BenchmarkStore(b *testing.B) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"sync", Options{}},
		{"sync-incoming", Options{NoTmpFile: true}},
		{"nosync", Options{NoSync: true}},
		{"nosync-incoming", Options{NoSync: true, NoTmpFile: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			s, err := New(dir, &c.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ds := dicom.NewDataSet(
				dicom.NewString(dicom.SOPClassUIDTag, dicom.UI, ct),
				dicom.NewString(dicom.SOPInstanceUIDTag, dicom.UI, "1.2.3.4"),
				dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, "1.2.9"),
				dicom.NewBytes(dicom.PixelDataTag, dicom.OW, make([]byte, 512*512*2)),
			)
			data, err := dicom.Encode(ds, dicom.ExplicitVRLittleEndian)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				in := &dimse.IncomingStore{SOPClassUID: ct, SOPInstanceUID: "1.2.3." + strconv.Itoa(i), TransferSyntax: dicom.ExplicitVRLittleEndian}
				if st, err := s.Store(context.Background(), in, bytes.NewReader(data)); err != nil || st != dimse.StatusSuccess {
					b.Fatalf("store: %v %v", st, err)
				}
			}
		})
	}
}
