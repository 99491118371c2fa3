package dicomgen_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dicomgen"
	"github.com/medrelay/medrelay/internal/testenv"
)

func TestStudyDescribesWhatItWrites(t *testing.T) {
	dir := t.TempDir()
	o := dicomgen.Options{Instances: 20, Series: 3, InstanceBytes: 6000, Mixed: true, MultiFrame: 2, Frames: 4, JPEG: 2}
	r, err := dicomgen.Study(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(r.Files), 20; got != want {
		t.Fatalf("files: got %d, want %d", got, want)
	}
	if got, want := len(r.Series), 3; got != want {
		t.Fatalf("series: got %d, want %d", got, want)
	}
	classes, syntaxes, uids := map[string]int{}, map[string]int{}, map[string]bool{}
	multiFrame := 0
	for _, f := range r.Files {
		meta, ds, err := dicom.ReadFileIndex(f.Path)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		st, _ := os.Stat(f.Path)
		checks := []struct{ what, got, want string }{
			{"study", ds.String(dicom.StudyInstanceUIDTag), r.StudyUID},
			{"series", ds.String(dicom.SeriesInstanceUIDTag), f.SeriesUID},
			{"class", ds.String(dicom.SOPClassUIDTag), f.SOPClassUID},
			{"instance", ds.String(dicom.SOPInstanceUIDTag), f.SOPInstanceUID},
			{"syntax", meta.TransferSyntaxUID, f.TransferSyntax},
			{"size", fmt.Sprint(st.Size()), fmt.Sprint(f.Size)},
			{"patient", ds.String(dicom.Tag{Group: 0x0010, Element: 0x0010}), dicomgen.PatientName},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %s: got %q, want %q", f.Path, c.what, c.got, c.want)
			}
		}
		if len(f.SOPInstanceUID) > 64 || !strings.HasPrefix(f.SOPInstanceUID, dicomgen.Root+".") {
			t.Errorf("instance UID %q: not under the test root or longer than 64", f.SOPInstanceUID)
		}
		if uids[f.SOPInstanceUID] {
			t.Errorf("instance UID %s written twice", f.SOPInstanceUID)
		}
		uids[f.SOPInstanceUID] = true
		classes[f.SOPClassUID]++
		syntaxes[f.TransferSyntax]++
		if f.Frames > 1 {
			multiFrame++
		}
	}
	if got, want := syntaxes[dicom.JPEGBaseline8Bit], 2; got != want {
		t.Errorf("JPEG instances: got %d, want %d", got, want)
	}
	if got, want := multiFrame, 2; got != want {
		t.Errorf("multi-frame instances: got %d, want %d", got, want)
	}
	if got := len(classes); got < 5 {
		t.Errorf("SOP classes: got %d (%v), want at least 5", got, classes)
	}
	if syntaxes[dicom.ImplicitVRLittleEndian] == 0 || syntaxes[dicom.ExplicitVRLittleEndian] == 0 {
		t.Errorf("syntaxes %v: want implicit and explicit little endian", syntaxes)
	}
}

func TestStudyIsDeterministicAndVariantChangesContent(t *testing.T) {
	o := dicomgen.Options{StudyUID: dicomgen.Root + ".4242", Instances: 4, Series: 2, JPEG: 1, MultiFrame: 1, Mixed: true}
	a, err := dicomgen.Study(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dicomgen.Study(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	o.Variant = 1
	c, err := dicomgen.Study(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Files {
		fa, fb, fc := read(t, a.Files[i].Path), read(t, b.Files[i].Path), read(t, c.Files[i].Path)
		if !bytes.Equal(fa, fb) {
			t.Errorf("instance %d: same options wrote different bytes", i)
		}
		if bytes.Equal(fa, fc) {
			t.Errorf("instance %d: another variant wrote the same bytes", i)
		}
		if a.Files[i].SOPInstanceUID != c.Files[i].SOPInstanceUID {
			t.Errorf("instance %d: variant changed the UID", i)
		}
	}
}

func TestStudyRejectsImpossibleOptions(t *testing.T) {
	for name, o := range map[string]dicomgen.Options{
		"too many special": {Instances: 2, JPEG: 2, MultiFrame: 1},
		"too many series":  {Instances: 2, Series: 3},
		"negative":         {Instances: -1},
		"long study UID":   {StudyUID: dicomgen.Root + strings.Repeat(".1", 20)},
	} {
		if _, err := dicomgen.Study(t.TempDir(), o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDcmtkAcceptsStudy checks the files with dcmtk: dcmdump parses each
// one, and storescu (-xy: JPEG baseline proposed too) sends all of them to
// storescp (+xa: every syntax accepted).
func TestDcmtkAcceptsStudy(t *testing.T) {
	need(t, "dcmdump", "storescu", "storescp")
	in, out := t.TempDir(), t.TempDir()
	r, err := dicomgen.Study(in, dicomgen.Options{Instances: 16, Series: 3, InstanceBytes: 20000, Mixed: true, MultiFrame: 1, JPEG: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range r.Files {
		b, err := exec.CommandContext(ctx, "dcmdump", "-E", f.Path).CombinedOutput()
		if err != nil || bytes.Contains(b, []byte("E: ")) || bytes.Contains(b, []byte("W: ")) {
			t.Errorf("dcmdump %s: %v\n%s", f.Path, err, b)
		}
	}
	port := freePort(t)
	scp := exec.CommandContext(ctx, "storescp", "--aetitle", "GENTEST", "+xa", "-od", out, fmt.Sprint(port))
	scp.Env = append(os.Environ(), "TCP_NODELAY=1")
	var scpOut bytes.Buffer
	scp.Stdout, scp.Stderr = &scpOut, &scpOut
	if err := scp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { scp.Process.Kill(); scp.Wait() }()
	waitListening(t, port)
	args := append([]string{"-xy", "-aec", "GENTEST", "127.0.0.1", fmt.Sprint(port)}, paths(r)...)
	scu := exec.CommandContext(ctx, "storescu", args...)
	scu.Env = append(os.Environ(), "TCP_NODELAY=1")
	if b, err := scu.CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s\nstorescp:\n%s", err, b, scpOut.String())
	}
	stored, _ := filepath.Glob(filepath.Join(out, "*"))
	if got, want := len(stored), len(r.Files); got != want {
		t.Fatalf("storescp stored %d files, want %d\n%s", got, want, scpOut.String())
	}
}

func paths(r dicomgen.Result) []string {
	var p []string
	for _, f := range r.Files {
		p = append(p, f.Path)
	}
	return p
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// need skips the test when a dcmtk tool is missing, or fails it under CI
// (internal/testenv).
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		testenv.Require(t, tool)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
