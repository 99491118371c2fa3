package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
)

// TestCaptureCommandSeeds records real DIMSE command sets sent by dcmtk
// (storescu, echoscu, dcmqrscp's find and move responses and its C-STORE
// sub-operations) as fuzz seeds for dimse.FuzzDecodeCommand. It runs only
// with DICOM_CAPTURE_SEEDS set to the directory to write, normally
//
//	DICOM_CAPTURE_SEEDS=$PWD/dicom/dimse/testdata/commands go test -run CaptureCommandSeeds ./dicom/interop
func TestCaptureCommandSeeds(t *testing.T) {
	out := os.Getenv("DICOM_CAPTURE_SEEDS")
	if out == "" {
		t.Skip("DICOM_CAPTURE_SEEDS not set")
	}
	need(t, "storescu", "echoscu", "dcmqrscp")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(out, name+".bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := startRecorder(t)
	files := genStudy(t, t.TempDir(), testRoot+".51", 3, 8, 8, 1)
	mustRun(t, "echoscu", "-aec", "GW", "127.0.0.1", strconv.Itoa(rec.port))
	mustRun(t, "storescu", "-aec", "GW", "127.0.0.1", strconv.Itoa(rec.port), files[0])
	port := startArchive(t, rec.port, files)
	queryArchive(t, port, dimse.StudyRootFind, save)
	queryArchive(t, port, dimse.StudyRootMove, save)
	names := map[string]string{"ECHOSCU": "dcmtk-echoscu-echo-rq", "STORESCU": "dcmtk-storescu-store-rq",
		"ARCHIVE": "dcmtk-dcmqrscp-store-rq-suboperation"}
	for i, c := range rec.commands() {
		if name := names[rec.callers()[i]]; name != "" {
			save(name, c) // the first of each caller
			delete(names, rec.callers()[i])
		}
	}
}

// recorder is an SCP that keeps every command set it receives.
type recorder struct {
	port int
	mu   sync.Mutex
	cmds [][]byte
	from []string
}

func (r *recorder) commands() [][]byte { r.mu.Lock(); defer r.mu.Unlock(); return r.cmds }
func (r *recorder) callers() []string  { r.mu.Lock(); defer r.mu.Unlock(); return r.from }

func startRecorder(t *testing.T) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{port: ln.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	accept := func(string, []string) (string, ul.Result) { return dicom.ImplicitVRLittleEndian, ul.Acceptance }
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := ul.Accept(conn, func(rq *ul.AssociateRQ) ul.Decision {
					return ul.Decision{Contexts: ul.AnswerContexts(rq, func(abs string, ts []string) (string, ul.Result) {
						for _, s := range ts {
							if s == dicom.ImplicitVRLittleEndian {
								return accept(abs, ts)
							}
						}
						return "", ul.TransferSyntaxesNotSupported
					})}
				}, nil)
				if err != nil {
					return
				}
				r.serve(a)
			}()
		}
	}()
	return r
}

func (r *recorder) serve(a *ul.Assoc) {
	for {
		id, raw, err := a.ReadCommand()
		if err != nil {
			return
		}
		cmd, err := dimse.DecodeCommand(raw)
		if err != nil {
			a.Abort()
			return
		}
		r.mu.Lock()
		r.cmds = append(r.cmds, raw)
		r.from = append(r.from, a.Request().CallingAE)
		r.mu.Unlock()
		if cmd.HasDataSet {
			io.Copy(io.Discard, a.DataReader(id))
		}
		rsp := &dimse.Command{AffectedSOPClassUID: cmd.AffectedSOPClassUID, CommandField: cmd.CommandField | 0x8000,
			MessageIDBeingRespondedTo: cmd.MessageID, AffectedSOPInstanceUID: cmd.AffectedSOPInstanceUID}
		if err := a.WriteMessage(id, rsp.Encode(), nil, 0); err != nil {
			return
		}
	}
}

// queryArchive sends one C-FIND or C-MOVE of the study to dcmqrscp and
// saves its first pending and its final response command sets.
func queryArchive(t *testing.T, port int, sop string, save func(string, []byte)) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := ul.Dial(ctx, "127.0.0.1:"+strconv.Itoa(port), ul.Request{CallingAE: "CAPTURE", CalledAE: "ARCHIVE",
		Contexts: []ul.PresentationContext{{AbstractSyntax: sop, TransferSyntaxes: []string{dicom.ImplicitVRLittleEndian}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	id, err := dicom.Encode(dicom.NewDataSet(
		dicom.NewString(dicom.Tag{Group: 0x0008, Element: 0x0052}, dicom.CS, "STUDY"),
		dicom.NewString(dicom.StudyInstanceUIDTag, dicom.UI, testRoot+".51"),
	), dicom.ImplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	rq := &dimse.Command{AffectedSOPClassUID: sop, CommandField: dimse.CFindRQ, MessageID: 1, HasDataSet: true}
	name := "find"
	if sop == dimse.StudyRootMove {
		rq.CommandField, rq.MoveDestination, name = dimse.CMoveRQ, "GW", "move"
	}
	if err := a.WriteMessage(1, rq.Encode(), bytes.NewReader(id), int64(len(id))); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		pc, raw, err := a.ReadCommand()
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := dimse.DecodeCommand(raw)
		if err != nil {
			t.Fatal(err)
		}
		if cmd.HasDataSet {
			io.Copy(io.Discard, a.DataReader(pc))
		}
		final := cmd.Status.Category() != dimse.Pending
		if i == 0 || final {
			save(fmt.Sprintf("dcmtk-dcmqrscp-%s-rsp-%04x", name, uint16(cmd.Status)), raw)
		}
		if final {
			return
		}
	}
}
