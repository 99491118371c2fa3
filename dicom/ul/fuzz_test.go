package ul

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodePDU feeds PDUs from our encoder and captured from dcmtk
// (testdata/pdus) to the decoder: it may reject them, never panic, and what
// it accepts must encode again.
func FuzzDecodePDU(f *testing.F) {
	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "ANY-SCP", CallingAE: "ME",
		Contexts: []PresentationContext{{ID: 1, AbstractSyntax: ctImage, TransferSyntaxes: []string{implicitLE, explicitLE}}},
		User: UserInfo{MaxPDULength: 16384, ImplementationClassUID: ImplementationClassUID,
			Roles: []RoleSelection{{SOPClassUID: ctImage, SCU: true}}}}
	f.Add(rq.append(nil))
	ac := (*AssociateAC)(rq)
	f.Add(ac.append(nil))
	f.Add(AssociateRJ{1, 1, 7}.append(nil))
	f.Add(Abort{2, 2}.append(nil))
	f.Add(appendRelease(nil, TypeReleaseRQ))
	pd := appendHeader(nil, TypePData, 10)
	f.Add(append(appendPDVHeader(pd, 1, true, true, 4), 1, 2, 3, 4))
	files, _ := filepath.Glob("testdata/pdus/*.bin")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pdu, err := DecodePDU(b)
		if err != nil {
			return
		}
		switch p := pdu.(type) {
		case *AssociateRQ:
			if _, err := DecodePDU(p.append(nil)); err != nil {
				t.Fatalf("re-encoded request does not decode: %v", err)
			}
		case *AssociateAC:
			p.append(nil)
		}
	})
}
