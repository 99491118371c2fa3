package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/dirstore"
)

func runSCP(ctx context.Context, args []string) error {
	fs := newFlagSet("scp", "--port P --aet AET --dir DIR")
	port := fs.Int("port", 0, "port to listen on (required)")
	bind := fs.String("bind", "", "address to listen on (default all interfaces)")
	aet := fs.String("aet", "", "our AE title; requests calling another title are rejected (required)")
	dir := fs.String("dir", "", "directory receiving DIR/<StudyInstanceUID>/<SOPInstanceUID>.dcm (required)")
	maxAssoc := fs.Int("max-assoc", 64, "concurrent associations; more are rejected as transient")
	noSync := fs.Bool("no-sync", false, "do not fsync before answering (unsafe: for tests only)")
	var maxPDU, maxSend uint
	var assocTimeout, timeout time.Duration
	registerUL(fs, &maxPDU, &maxSend, &assocTimeout, &timeout)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErrorf("scp: unexpected argument %q (scp takes flags only)", pos[0])
	case *port <= 0 || *port > 65535:
		return usageErrorf("scp: missing or invalid --port %d (want --port 1..65535)", *port)
	case *dir == "":
		return usageErrorf("scp: missing --dir (want --dir DIRECTORY to store into)")
	}
	if err := checkAE("--aet", *aet); err != nil {
		return err
	}
	store, err := dirstore.New(*dir, &dirstore.Options{NoSync: *noSync})
	if err != nil {
		return err
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv := dimse.NewServer(dimse.ServerOptions{
		AETitle: *aet, Store: store, MaxAssociations: *maxAssoc,
		UL:      ulOptions(maxPDU, maxSend, assocTimeout, timeout),
		OnEvent: logEvent(log),
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(*bind, strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("scp: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "aet", *aet, "dir", *dir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		srv.Close()
		<-errc
		return nil
	case err := <-errc:
		srv.Close()
		return fmt.Errorf("scp: %w", err)
	}
}

// logEvent logs stores and associations; patient data never reaches the
// log, only UIDs, titles and statuses.
func logEvent(log *slog.Logger) func(dimse.Event) {
	return func(e dimse.Event) {
		switch {
		case e.Store != nil && e.Err != nil:
			log.Warn("store failed", "remote", e.Remote, "calling_ae", e.CallingAE, "sop_instance", e.Store.SOPInstanceUID, "err", e.Err)
		case e.Store != nil:
			log.Debug("stored", "remote", e.Remote, "calling_ae", e.CallingAE, "sop_instance", e.Store.SOPInstanceUID)
		case e.Err != nil && !errors.Is(e.Err, context.Canceled):
			log.Warn("association ended", "remote", e.Remote, "calling_ae", e.CallingAE, "err", e.Err)
		default:
			log.Info("association released", "remote", e.Remote, "calling_ae", e.CallingAE)
		}
	}
}
