package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/medrelay/medrelay/dicom"
)

// explicitOnlyConfig is a storescp profile (-xf FILE ExplicitOnly) that
// accepts the test classes in explicit VR little endian only.
func explicitOnlyConfig(t *testing.T, classes []string) string {
	var b strings.Builder
	b.WriteString("[[TransferSyntaxes]]\n[Explicit]\nTransferSyntax1 = LittleEndianExplicit\n")
	b.WriteString("[[PresentationContexts]]\n[Contexts]\nPresentationContext1 = VerificationSOPClass\\Explicit\n")
	for i, c := range classes {
		fmt.Fprintf(&b, "PresentationContext%d = %s\\Explicit\n", i+2, c)
	}
	b.WriteString("[[Profiles]]\n[ExplicitOnly]\nPresentationContexts = Contexts\n")
	p := filepath.Join(t.TempDir(), "storescp.cfg")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStoreTranscodes sends implicit and explicit little endian files to a
// storescp that accepts only one of the two: dicomgw store proposes the
// other syntax too and re-encodes on the fly; dcmdump sees the same
// attributes in what arrived as in what was sent.
func TestStoreTranscodes(t *testing.T) {
	need(t, "storescp", "dcmdump")
	in := t.TempDir()
	files := genStudy(t, filepath.Join(in, "study"), testRoot+".31", 14, 16, 16, 1)
	mf := filepath.Join(in, "multiframe.dcm")
	writeInstance(t, mf, spec{class: "1.2.840.10008.5.1.4.1.1.7.3", ts: dicom.ImplicitVRLittleEndian,
		study: testRoot + ".32", patient: "PID-MF", rows: 256, cols: 256, frame: 40}, 1)
	files = append(files, mf)
	classes := append(append([]string{}, testClasses...), "1.2.840.10008.5.1.4.1.1.7.3")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"storescp +xi accepts implicit only", []string{"+xi"}, dicom.ImplicitVRLittleEndian},
		{"storescp profile accepts explicit only", []string{"-xf", explicitOnlyConfig(t, classes), "ExplicitOnly"}, dicom.ExplicitVRLittleEndian},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			port := freePort(t)
			startServer(t, port, "storescp", append(tc.args, "+B", "-od", out, strconv.Itoa(port))...)
			res := gw(t, true, "store", "--host", "127.0.0.1", "--port", strconv.Itoa(port), in)
			if !strings.Contains(res, fmt.Sprintf("%d succeeded", len(files))) {
				t.Fatalf("summary:\n%s", res[max(0, len(res)-500):])
			}
			got := filesUnder(t, out)
			for _, p := range got {
				if meta, _ := dataSetOf(t, p); dicom.TrimUID(meta.TransferSyntaxUID) != tc.want {
					t.Errorf("%s arrived in %s, want %s", p, meta.TransferSyntaxUID, tc.want)
				}
			}
			sameContent(t, files, got)
		})
	}
}
