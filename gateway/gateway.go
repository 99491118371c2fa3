// Package gateway runs one site's imaging gateway (dicomgw serve): a DICOM
// node that receives studies by C-STORE, a client of its relay through the
// SDK, and an HTTP API. A study's journey is a pipeline of persisted steps:
//
//	receive (receive/) → complete → manifest → upload → study.available (send/)
//	→ download, verify, C-STORE to the destination → study.received (deliver/)
//	→ cleanup (send/, deliver/)
//
// send-study pulls a study from a peer first (pull/). Every step is
// recorded in one bbolt file (store/) and resumed after a crash; the
// relay carries one small envelope per study and direction
// (manifest/), the instances go through the relay's file store.
//
// The subpackages each own one concern; this package only wires them.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/gateway/api"
	"github.com/medrelay/medrelay/gateway/config"
	"github.com/medrelay/medrelay/gateway/deliver"
	"github.com/medrelay/medrelay/gateway/manifest"
	"github.com/medrelay/medrelay/gateway/pull"
	"github.com/medrelay/medrelay/gateway/receive"
	"github.com/medrelay/medrelay/gateway/relayconn"
	"github.com/medrelay/medrelay/gateway/send"
	"github.com/medrelay/medrelay/gateway/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Gateway is one running gateway. New binds its listeners; Run serves
// until its context ends.
type Gateway struct {
	cfg  *config.Config
	log  *slog.Logger
	db   *store.Store
	conn *relayconn.Conn
	recv *receive.Receiver
	snd  *send.Sender
	dlv  *deliver.Deliverer
	pl   *pull.Puller

	dicomLn, httpLn net.Listener
	dicomSrv        *dimse.Server
	httpSrv         *http.Server
}

// New opens the job database and binds the DICOM and HTTP listeners.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: log}
	var err error
	if g.db, err = store.Open(cfg.DataDir); err != nil {
		return nil, err
	}
	g.conn = relayconn.New(relayconn.Options{Relay: cfg.Relay.URL, ID: cfg.ID, Transport: cfg.Relay.Transport,
		CAFile: cfg.Relay.CAFile, Token: cfg.Relay.Token, StateDir: filepath.Join(cfg.DataDir, "uploads"),
		Proxy: cfg.FileStore.Proxy, Logger: log.With("component", "relay"), Handlers: map[string]client.Handler{
			manifest.Available: g.handle(func(ctx context.Context, e *pb.Envelope) error { return g.dlv.HandleAvailable(ctx, e) }),
			manifest.Received:  g.handle(func(ctx context.Context, e *pb.Envelope) error { return g.snd.HandleReceipt(ctx, e) }),
			manifest.Request:   g.handle(func(ctx context.Context, e *pb.Envelope) error { return g.snd.HandleRequest(ctx, e) }),
			manifest.Send:      g.handle(g.handleSend),
		}})
	g.snd = send.New(send.Options{Store: g.db, Relay: g.conn, Logger: log, StableAfter: cfg.StableAfter,
		Uploads: cfg.FileStore.Uploads, Retention: cfg.Retention, ManifestDir: filepath.Join(cfg.DataDir, "manifests")})
	g.dlv = deliver.New(deliver.Options{Store: g.db, Relay: g.conn, Config: cfg, Dir: filepath.Join(cfg.DataDir, "incoming"), Logger: log})
	g.pl = pull.New(pull.Options{Store: g.db, Config: cfg, Logger: log, OnComplete: g.snd.Kick})
	g.recv, err = receive.New(receive.Options{Dir: filepath.Join(cfg.DataDir, "staged"), Store: g.db, Route: g.route,
		Logger: log, OnStored: g.snd.Kick})
	if err != nil {
		g.db.Close()
		return nil, err
	}
	g.dicomSrv = dimse.NewServer(dimse.ServerOptions{Store: g.recv, AcceptSOPClass: func(string) bool { return true },
		AcceptCalledAE: cfg.Answers, OnEvent: g.onEvent})
	if g.dicomLn, err = net.Listen("tcp", cfg.DICOM.Listen); err != nil {
		g.db.Close()
		return nil, fmt.Errorf("dicom.listen %s: %w", cfg.DICOM.Listen, err)
	}
	if g.httpLn, err = net.Listen("tcp", cfg.HTTP); err != nil {
		g.dicomLn.Close()
		g.db.Close()
		return nil, fmt.Errorf("http %s: %w", cfg.HTTP, err)
	}
	g.httpSrv = &http.Server{Handler: api.Handler(api.Options{Store: g.db, Backend: g, Token: cfg.Relay.Token}),
		ReadHeaderTimeout: 10 * time.Second}
	return g, nil
}

// DICOMAddr and HTTPAddr are the bound addresses.
func (g *Gateway) DICOMAddr() string { return g.dicomLn.Addr().String() }

// HTTPAddr is the bound HTTP API address.
func (g *Gateway) HTTPAddr() string { return g.httpLn.Addr().String() }

// Store is the job database (for tests and the demo).
func (g *Gateway) Store() *store.Store { return g.db }

// handle wraps a handler so it runs only once the pipelines exist and
// its failures are logged with the command.
func (g *Gateway) handle(h client.Handler) client.Handler {
	return func(ctx context.Context, e *pb.Envelope) error {
		err := h(ctx, e)
		if err != nil && ctx.Err() == nil {
			g.log.Warn("envelope not handled", "command", e.GetCommand(), "from", e.GetFrom().GetRelay()+"/"+e.GetFrom().GetClient(),
				"study", e.GetArgs()["study_uid"], "err", err)
		}
		return err
	}
}

// Run serves until ctx ends, then stops every part and closes the
// database.
func (g *Gateway) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	run(func() { g.conn.Run(ctx) })
	run(func() { g.snd.Run(ctx) })
	run(func() { g.dlv.Run(ctx) })
	run(func() { g.pl.Run(ctx) })
	run(func() {
		if err := g.dicomSrv.Serve(g.dicomLn); err != nil && !errors.Is(err, dimse.ErrServerClosed) {
			errc <- fmt.Errorf("dicom listener: %w", err)
		}
	})
	run(func() {
		if err := g.httpSrv.Serve(g.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http listener: %w", err)
		}
	})
	g.log.Info("gateway started", "id", g.cfg.ID, "dicom", g.DICOMAddr(), "aet", strings.Join(g.cfg.DICOM.AET, ","),
		"http", g.HTTPAddr(), "relay", g.cfg.Relay.URL)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	g.dicomSrv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	g.httpSrv.Shutdown(sctx)
	cancel()
	wg.Wait()
	g.recv.Close()
	g.db.Close()
	g.log.Info("gateway stopped")
	return err
}

// Ready implements api.Backend: the listeners are up once Run runs; the
// relay link must be up.
func (g *Gateway) Ready() (bool, string) {
	if !g.conn.Ready() {
		return false, "relay " + g.cfg.Relay.URL + " not connected"
	}
	return true, ""
}

// StartPull implements api.Backend.
func (g *Gateway) StartPull(p store.Pull) error { return g.pl.Start(p) }

// route picks the target of a received instance: the pull that asked for
// its study, else the first matching route.
func (g *Gateway) route(in *dimse.IncomingStore, study, modality string) (receive.Target, bool) {
	if p, ok := g.pl.Active(study); ok {
		return receive.Target{Peer: p.To, Destination: p.Destination, Pull: true}, true
	}
	r, ok := g.cfg.Route(strings.TrimSpace(in.CalledAE), strings.TrimSpace(in.CallingAE), modality)
	if !ok {
		return receive.Target{}, false
	}
	return receive.Target{Peer: r.To, Destination: r.Destination, CompleteOnRelease: r.CompleteOnRelease}, true
}

func (g *Gateway) onEvent(ev dimse.Event) {
	if ev.Store != nil {
		return
	}
	if g.recv.AssocEnded(ev) {
		g.snd.Kick()
	}
}

// handleSend takes study.send from an application: a pull whose receipt
// goes back to the application too.
func (g *Gateway) handleSend(_ context.Context, e *pb.Envelope) error {
	a := e.GetArgs()
	rq := api.SendRequest{StudyUID: a["study_uid"], From: a["from"], To: a["to"], Destination: a["destination"]}
	from := e.GetFrom().GetRelay() + "/" + e.GetFrom().GetClient()
	err := api.CheckSend(rq)
	if err == nil {
		err = g.pl.Start(store.Pull{StudyUID: rq.StudyUID, From: rq.From, To: rq.To, Destination: rq.Destination, Requester: from})
	}
	if err != nil {
		g.log.Warn("study.send refused", "step", "pull", "study", rq.StudyUID, "from", from, "err", err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return g.conn.Send(ctx, relayconn.Message{ID: relayconn.NewID(), To: from, Command: manifest.Received, Correlation: e.GetId(),
			Args: map[string]string{"study_uid": rq.StudyUID, "error": err.Error(), "failed": "0", "stored": "0", "already_present": "0"}})
	}
	return nil
}
