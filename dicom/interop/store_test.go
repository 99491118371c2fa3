package interop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
)

// testSet writes the default test data: 300 small instances of one study
// across seven SOP classes in implicit and explicit little endian, a
// multi-frame image, dcmtk-made files (one JPEG compressed) and, last, an
// instance of a private SOP class in private/.
func testSet(t *testing.T) (string, []string) {
	t.Helper()
	in := t.TempDir()
	files := genStudy(t, filepath.Join(in, "study1"), testRoot+".11", 300, 8, 8, 1)
	mf := filepath.Join(in, "multiframe.dcm")
	writeInstance(t, mf, spec{class: "1.2.840.10008.5.1.4.1.1.7.3", ts: dicom.ExplicitVRLittleEndian,
		study: testRoot + ".12", patient: "PID-MF", rows: 256, cols: 256, frame: 24}, 1)
	files = append(files, mf)
	files = append(files, dcmtkFiles(t, in)...)
	os.Mkdir(filepath.Join(in, "private"), 0o755)
	priv := filepath.Join(in, "private", "private.dcm")
	writeInstance(t, priv, spec{class: privateClass, ts: dicom.ExplicitVRLittleEndian,
		study: testRoot + ".13", patient: "PID-PRIV", rows: 4, cols: 4}, 1)
	return in, append(files, priv)
}

func TestDcmtkToSCP(t *testing.T) {
	need(t, "echoscu", "storescu")
	in, files := testSet(t)
	out := t.TempDir()
	port, _ := startGW(t, "GW", out)
	p := strconv.Itoa(port)

	t.Run("echoscu", func(t *testing.T) {
		mustRun(t, "echoscu", "-aec", "GW", "127.0.0.1", p)
	})
	t.Run("wrong called AE rejected", func(t *testing.T) {
		if out, err := runTool(t, "echoscu", "-aec", "NOTGW", "127.0.0.1", p); err == nil {
			t.Fatalf("echoscu calling NOTGW succeeded:\n%s", out)
		}
	})
	t.Run("storescu +sd default contexts", func(t *testing.T) {
		mustRun(t, "storescu", "-aec", "GW", "+sd", "+r", "127.0.0.1", p, filepath.Join(in, "study1"))
		sameDataSets(t, files[:300], filesUnder(t, out))
		meta, _ := dataSetOf(t, filepath.Join(out, testRoot+".11", dataUID(t, files[0])+".dcm"))
		if meta.SourceApplicationEntityTitle != "STORESCU" {
			t.Errorf("source AE %q, want STORESCU", meta.SourceApplicationEntityTitle)
		}
	})
	t.Run("storescu -R -xy with JPEG and multi-frame", func(t *testing.T) {
		args := append([]string{"-aec", "GW", "-R", "-xy", "127.0.0.1", p}, files[300:303]...)
		mustRun(t, "storescu", args...)
		sameDataSets(t, files[:303], filesUnder(t, out))
	})
	t.Run("dicomgw store of a private SOP class", func(t *testing.T) {
		gw(t, true, "store", "--host", "127.0.0.1", "--port", p, "--called", "GW", filepath.Join(in, "private"))
		sameDataSets(t, files[303:], filesUnder(t, out))
	})
	if got := filesUnder(t, out); len(got) == 0 {
		t.Fatal("nothing stored")
	} else if res, err := runTool(t, "dcmdump", "-q", got[len(got)-1]); err != nil {
		t.Errorf("dcmdump cannot read a stored file: %v\n%s", err, res)
	}
}

// dataUID returns a file's SOP instance UID.
func dataUID(t *testing.T, path string) string {
	meta, _ := dataSetOf(t, path)
	return dicom.TrimUID(meta.MediaStorageSOPInstanceUID)
}

// TestMaxPDU exchanges the multi-frame and dcmtk files through peers
// announcing 4096 and 131072 bytes, in both directions.
func TestMaxPDU(t *testing.T) {
	need(t, "storescu", "storescp", "dump2dcm", "img2dcm")
	_, all := testSet(t)
	files := all[300:303] // multi-frame, dump2dcm, img2dcm (JPEG)
	for _, max := range []string{"4096", "131072"} {
		t.Run("storescu to scp --max-pdu "+max, func(t *testing.T) {
			out := t.TempDir()
			port, _ := startGW(t, "GW", out, "--max-pdu", max)
			mustRun(t, "storescu", append([]string{"-aec", "GW", "-R", "-xy", "--max-send-pdu", max, "127.0.0.1", strconv.Itoa(port)}, files...)...)
			sameDataSets(t, files, filesUnder(t, out))
		})
		t.Run("store to storescp --max-pdu "+max, func(t *testing.T) {
			out := t.TempDir()
			port := freePort(t)
			startServer(t, port, "storescp", "+B", "+xa", "-pm", "--max-pdu", max, "-od", out, strconv.Itoa(port))
			gw(t, true, append([]string{"store", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--max-pdu", max}, files...)...)
			sameDataSets(t, files, filesUnder(t, out))
		})
	}
}

// gw runs dicomgw and checks its exit status.
func gw(t *testing.T, wantOK bool, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gwBin, args...).CombinedOutput()
	if wantOK && err != nil {
		t.Fatalf("dicomgw %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !wantOK && err == nil {
		t.Fatalf("dicomgw %s succeeded, want failure\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

func TestGWToStorescp(t *testing.T) {
	need(t, "storescp", "dump2dcm", "img2dcm")
	in, files := testSet(t)
	t.Run("echo", func(t *testing.T) {
		port := freePort(t)
		startServer(t, port, "storescp", strconv.Itoa(port))
		gw(t, true, "echo", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	})
	t.Run("storescp +xa accepts all", func(t *testing.T) {
		out := t.TempDir()
		port := freePort(t)
		startServer(t, port, "storescp", "+B", "+xa", "-pm", "-od", out, strconv.Itoa(port))
		res := gw(t, true, "store", "--host", "127.0.0.1", "--port", strconv.Itoa(port), in)
		if !strings.Contains(res, "0 failed") {
			t.Errorf("summary:\n%s", res[max(0, len(res)-300):])
		}
		sameDataSets(t, files, filesUnder(t, out))
	})
	t.Run("storescp rejects JPEG context", func(t *testing.T) {
		out := t.TempDir()
		port := freePort(t)
		startServer(t, port, "storescp", "+B", "-od", out, strconv.Itoa(port))
		jpeg := files[302]
		res := gw(t, false, "store", "--host", "127.0.0.1", "--port", strconv.Itoa(port), files[0], jpeg)
		if !strings.Contains(res, "FAILED "+jpeg) || !strings.Contains(res, "1 succeeded") {
			t.Errorf("output does not report the rejected file:\n%s", res)
		}
		sameDataSets(t, files[:1], filesUnder(t, out))
	})
}

// TestAbortMidTransfer aborts a C-STORE half way: the SCP keeps nothing.
func TestAbortMidTransfer(t *testing.T) {
	out := t.TempDir()
	port, srv := startGW(t, "GW", out)
	ctx := context.Background()
	ct := "1.2.840.10008.5.1.4.1.1.2"
	a, err := ul.Dial(ctx, "127.0.0.1:"+strconv.Itoa(port), ul.Request{CallingAE: "T", CalledAE: "GW",
		Contexts: []ul.PresentationContext{{AbstractSyntax: ct, TransferSyntaxes: []string{dicom.ExplicitVRLittleEndian}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rq := &dimse.Command{AffectedSOPClassUID: ct, CommandField: dimse.CStoreRQ, MessageID: 1, HasDataSet: true,
		AffectedSOPInstanceUID: testRoot + ".99.1"}
	data := &cutReader{r: bytes.NewReader(make([]byte, 8<<20)), left: 3 << 20}
	if err := a.WriteMessage(1, rq.Encode(), data, 8<<20); err == nil {
		t.Fatal("write of a cut data set succeeded")
	}
	a.Abort()
	waitFor(t, "the SCP to report the failed store", func() bool { return strings.Contains(srv.out.String(), "store failed") })
	if files := filesUnder(t, out); len(files) != 0 {
		t.Fatalf("partial instance kept: %v", files)
	}
	if err := echoOK("127.0.0.1:"+strconv.Itoa(port), "GW"); err != nil {
		t.Fatalf("SCP unusable after an abort: %v", err)
	}
}

type cutReader struct {
	r    *bytes.Reader
	left int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("cut")
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= n
	return n, err
}

// TestNonStorageSOPClassRejected asks the storage SCP for a query model:
// the context is rejected (abstract syntax not supported) and find fails.
func TestNonStorageSOPClassRejected(t *testing.T) {
	port, _ := startGW(t, "GW", t.TempDir())
	res := gw(t, false, "find", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--called", "GW", "-k", "PatientID=X")
	if !strings.Contains(res, "accepted no context") {
		t.Errorf("find against a storage SCP:\n%s", res)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"unknown flag", []string{"echo", "--bogus"}, "-bogus"},
		{"missing host", []string{"echo", "--port", "104"}, "--host"},
		{"bad level", []string{"find", "--host", "h", "--port", "1", "--level", "WARD"}, "--level"},
		{"bad key", []string{"find", "--host", "h", "--port", "1", "-k", "NoSuchThing=1"}, "NoSuchThing"},
		{"scp without dir", []string{"scp", "--port", "1", "--aet", "X"}, "--dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(gwBin, tc.args...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output does not name %q:\n%s", tc.want, out)
			}
		})
	}
}
