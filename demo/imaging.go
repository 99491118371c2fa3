package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/medrelay/medrelay/dicom"
	"github.com/medrelay/medrelay/dicom/dicomgen"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
	"github.com/medrelay/medrelay/gateway"
	"github.com/medrelay/medrelay/gateway/api"
	"github.com/medrelay/medrelay/gateway/config"
	"github.com/medrelay/medrelay/gateway/store"
)

// The imaging part's names.
const (
	demoRoute   = "TO_COUNTY_B" // called title at the clinic's gateway that routes to county-b
	demoViewer  = "VIEWER_B"    // the radiologist's viewer behind county-b's gateway
	demoClinic  = "CT_A1"       // the township clinic's CT
	imagingWait = 30 * time.Second
)

// viewer is an in-process DICOM receiver standing in for the
// radiologist's viewer: it counts the instances it gets.
type viewer struct {
	srv  *dimse.Server
	addr string
	mu   sync.Mutex
	got  map[string]int // SOP instance UID → copies
}

func (v *viewer) Store(_ context.Context, in *dimse.IncomingStore, data io.Reader) (dimse.Status, error) {
	if _, err := io.Copy(io.Discard, data); err != nil {
		return dimse.StatusOutOfResources, err
	}
	v.mu.Lock()
	v.got[in.SOPInstanceUID]++
	v.mu.Unlock()
	return dimse.StatusSuccess, nil
}

func startViewer() (*viewer, error) {
	v := &viewer{got: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	v.addr = ln.Addr().String()
	v.srv = dimse.NewServer(dimse.ServerOptions{AETitle: demoViewer, Store: v, AcceptSOPClass: func(string) bool { return true }})
	go v.srv.Serve(ln)
	return v, nil
}

// imaging is the gateways of the demo: the township clinic's and county-b's.
type imaging struct {
	a, b   *gateway.Gateway
	viewer *viewer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startImaging starts a gateway under township-a1 and one under county-b
// delivering to an in-process viewer.
func startImaging(dir string, n *Network, log *slog.Logger) (*imaging, error) {
	v, err := startViewer()
	if err != nil {
		return nil, err
	}
	im := &imaging{viewer: v}
	_, vport, _ := net.SplitHostPort(v.addr)
	var port int
	fmt.Sscan(vport, &port)
	cfgB := &config.Config{ID: "gw-b", Relay: config.Relay{URL: n.Relays["county-b"].URL()}, DataDir: filepath.Join(dir, "gw-b"),
		DICOM: config.DICOM{Listen: "127.0.0.1:0", AET: config.AETList{"GW_B"}}, HTTP: "127.0.0.1:0",
		Peers:   []config.Peer{{AET: demoViewer, Host: "127.0.0.1", Port: port}},
		Deliver: config.Deliver{DefaultDestination: demoViewer}}
	cfgA := &config.Config{ID: "gw-a1", Relay: config.Relay{URL: n.Relays["township-a1"].URL()}, DataDir: filepath.Join(dir, "gw-a1"),
		DICOM: config.DICOM{Listen: "127.0.0.1:0", AET: config.AETList{"GW_A1"}}, HTTP: "127.0.0.1:0",
		Routes: []config.Route{{Match: config.Match{CalledAET: config.AETList{demoRoute}}, To: "county-b/gw-b", CompleteOnRelease: true}}}
	ctx, cancel := context.WithCancel(context.Background())
	im.cancel = cancel
	for _, c := range []struct {
		cfg *config.Config
		gw  **gateway.Gateway
	}{{cfgB, &im.b}, {cfgA, &im.a}} {
		if err := c.cfg.Validate(); err != nil {
			im.Close()
			return nil, err
		}
		c.cfg.Defaults()
		g, err := gateway.New(c.cfg, log.With("gateway", c.cfg.ID))
		if err != nil {
			im.Close()
			return nil, fmt.Errorf("start gateway %s: %w", c.cfg.ID, err)
		}
		*c.gw = g
		im.wg.Add(1)
		go func() { defer im.wg.Done(); g.Run(ctx) }()
	}
	return im, nil
}

// Close stops the gateways and the viewer.
func (im *imaging) Close() {
	im.cancel()
	im.wg.Wait()
	im.viewer.srv.Close()
}

// playImaging sends a small generated study from the township clinic's
// gateway to county-b's viewer and reports each step with counts.
func (s *script) playImaging(dir string, im *imaging) error {
	ready := func(g *gateway.Gateway) bool { ok, _ := g.Ready(); return ok }
	if err := s.poll("both gateways connect to their relays", func() bool { return ready(im.a) && ready(im.b) }); err != nil {
		return err
	}
	study, err := dicomgen.Study(filepath.Join(dir, "study"), dicomgen.Options{Instances: 24, Series: 3, InstanceBytes: 16 << 10,
		Mixed: true, MultiFrame: 2, Frames: 4, JPEG: 2})
	if err != nil {
		return s.fail("generate a study", err)
	}
	bytes, err := s.storeStudy(im.a.DICOMAddr(), study)
	if err != nil {
		return err
	}
	total := len(study.Files)
	s.ok("the township clinic's CT (%s) stored %d instances (%.1f MB, %d series) at township-a1/gw-a1, calling %s",
		demoClinic, total, float64(bytes)/1e6, len(study.Series), demoRoute)

	out, err := s.row(im.a, study.StudyUID, store.Outgoing, "gw-a1 announces the study", func(t *store.Transfer) bool {
		return t.State == store.Announced || t.Terminal()
	})
	if err != nil {
		return err
	}
	s.ok("township-a1/gw-a1 uploaded %d instances to object storage and sent study.available with the manifest to %s", out.Uploaded, out.Peer)

	in, err := s.row(im.b, study.StudyUID, store.Incoming, "county-b/gw-b delivers the study", func(t *store.Transfer) bool { return t.Terminal() })
	if err != nil {
		return err
	}
	s.ok("county-b/gw-b downloaded and verified %d instances (SHA-256) and stored %d at %s (%d failed)", in.Instances, in.Stored, in.Destination, in.Failed)

	out, err = s.row(im.a, study.StudyUID, store.Outgoing, "the receipt reaches gw-a1", func(t *store.Transfer) bool { return t.Terminal() })
	if err != nil {
		return err
	}
	s.ok("township-a1/gw-a1 got study.received: %s, stored %d, already present %d, failed %d", out.State, out.Stored, out.AlreadyPresent, out.Failed)

	missing := 0
	im.viewer.mu.Lock()
	for _, f := range study.Files {
		if im.viewer.got[f.SOPInstanceUID] == 0 {
			missing++
		}
	}
	im.viewer.mu.Unlock()
	if missing > 0 || out.State != store.Acknowledged {
		return s.fail("every instance at the viewer", fmt.Errorf("%d of %d instances missing at %s (state %s)", missing, total, demoViewer, out.State))
	}
	s.ok("the viewer %s holds all %d of %d instances", demoViewer, total, total)
	return nil
}

// storeStudy C-STOREs a generated study over one association.
func (s *script) storeStudy(addr string, study dicomgen.Result) (int64, error) {
	ctx, cancel := context.WithTimeout(s.ctx, imagingWait)
	defer cancel()
	seen := map[[2]string]bool{}
	var ctxs []ul.PresentationContext
	for _, f := range study.Files {
		if k := [2]string{f.SOPClassUID, f.TransferSyntax}; !seen[k] {
			seen[k] = true
			ctxs = append(ctxs, ul.PresentationContext{AbstractSyntax: f.SOPClassUID, TransferSyntaxes: []string{f.TransferSyntax}})
		}
	}
	c, err := dimse.Dial(ctx, addr, ul.Request{CallingAE: demoClinic, CalledAE: demoRoute, Contexts: ctxs}, nil)
	if err != nil {
		return 0, s.fail("the CT connects to the clinic's gateway", err)
	}
	var total int64
	for _, f := range study.Files {
		n, err := storeFile(ctx, c, f)
		if err != nil {
			c.Assoc().Abort()
			return 0, s.fail("C-STORE "+f.SOPInstanceUID, err)
		}
		total += n
	}
	if err := c.Close(); err != nil {
		return 0, s.fail("release the association", err)
	}
	return total, nil
}

func storeFile(ctx context.Context, c *dimse.Client, f dicomgen.File) (int64, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	meta, rest, err := dicom.ReadFileMeta(fh)
	if err != nil {
		return 0, err
	}
	size := f.Size - meta.DataSetOffset
	rsp, err := c.Store(ctx, dimse.StoreRequest{SOPClassUID: f.SOPClassUID, SOPInstanceUID: f.SOPInstanceUID,
		TransferSyntax: f.TransferSyntax, Data: io.LimitReader(rest, size), Size: size})
	if err != nil {
		return 0, err
	}
	if rsp.Status != dimse.StatusSuccess {
		return 0, fmt.Errorf("status %v", rsp.Status)
	}
	return f.Size, nil
}

// row waits until a gateway's transfer of study on side meets cond.
func (s *script) row(g *gateway.Gateway, study, side, what string, cond func(*store.Transfer) bool) (*store.Transfer, error) {
	var found *store.Transfer
	err := s.poll(what, func() bool {
		trs, err := api.Transfers(g.Store(), study)
		if err != nil {
			return false
		}
		for _, t := range trs {
			if t.Side == side && cond(t) {
				found = t
				return true
			}
		}
		return false
	})
	return found, err
}

func (s *script) poll(what string, cond func() bool) error {
	deadline := time.Now().Add(imagingWait)
	for !cond() {
		if time.Now().After(deadline) {
			return s.fail(what, errors.New("not done within "+imagingWait.String()))
		}
		select {
		case <-s.ctx.Done():
			return s.fail(what, s.ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
