// Package relay is a medrelay relay: a main or a node. It accepts links
// from client applications and child relays, routes every envelope it
// receives to a local client's inbox, a child's queue or its parent's
// queue, keeps each queue on disk until the next hop acknowledges, and
// serves /v1/hello and the admin API on its HTTP address.
//
// Package relay wires the parts together; the server's parts live in its
// subpackages: config (the YAML file), store (bbolt), journal (the intake
// journal), auth (credentials). The link protocol it shares with the SDK
// lives under link/ (wire, link, httplink, quiclink, hello, tlsconf) and in
// package envelope; a node's link to its parent (uplink.go) is a
// hello.Redialer, the same one the SDK uses.
package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/medrelay/medrelay/link"
	"github.com/medrelay/medrelay/link/httplink"
	"github.com/medrelay/medrelay/link/quiclink"
	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay/auth"
	"github.com/medrelay/medrelay/relay/config"
	"github.com/medrelay/medrelay/relay/store"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// Version is reported in /v1/hello and in handshakes.
const Version = "0.1.0"

// Relay is one running relay.
type Relay struct {
	cfg    *config.Config
	log    *slog.Logger
	store  *store.Store
	intake durability // see intake.go
	opts   link.Options
	now    func() time.Time

	httpLn   net.Listener
	tcpLn    net.Listener
	quicLn   *quiclink.Listener
	srv      *http.Server
	httpLink *httplink.Server
	tls      *tls.Config       // nil without tls
	creds    *auth.Credentials // nil without auth

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.RWMutex
	routes   map[string]string // relay id -> child id
	children map[string]*childLink
	inboxes  map[string]*inbox
	uplink   *uplink
	upConn   link.Link
	ancestry []string // the parent and its ancestors
	conns    map[link.Link]struct{}
	files    *fileService // see files.go
	limiter  *connLimiter // see connlimit.go
	inFlight inFlight     // entries pumps have sent, unsettled
}

// Options are what a relay needs besides its config file.
type Options struct {
	// Logger receives the relay's logs (default slog.Default()).
	Logger *slog.Logger
	// Link tunes heartbeats and windows (defaults: see link.Options).
	Link link.Options
	// Now is the relay's clock (default time.Now) for the age of envelope
	// ids and for dedupe records; tests move it instead of sleeping.
	Now func() time.Time
	// StoreFault, when set, is called in every store commit; an error
	// fails the commit as a full disk would. Only tests set it.
	StoreFault func() error
	// QUICConn, when set, carries the QUIC listener instead of a socket
	// bound to listen.quic (tests use it to drop packets on purpose).
	QUICConn net.PacketConn
}

// New opens the relay's store and binds its listeners. Call Start to serve.
func New(cfg *config.Config, opts Options) (*Relay, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("relay", cfg.ID)
	cfg.Limits.FillDefaults() // for configs not made by config.Parse
	opts.Link.MaxFrame = cfg.Limits.MaxFrameBytes
	files, err := openFiles(context.Background(), cfg, log)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st, err := store.Open(cfg.DataDir, store.Options{DedupeTTL: cfg.Limits.MaxTTL + config.MaxClockSkew, Now: opts.Now, Fault: opts.StoreFault})
	if err != nil {
		return nil, err
	}
	routes, err := st.Routes()
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("load routes: %w", err)
	}
	r := &Relay{
		cfg: cfg, log: log, store: st, opts: opts.Link, now: opts.Now,
		routes:   routes,
		children: make(map[string]*childLink),
		inboxes:  make(map[string]*inbox),
		conns:    make(map[link.Link]struct{}),
		files:    files,
		limiter:  newConnLimiter(cfg.Limits.MaxConnections, cfg.Limits.MaxConnectionsPerAddress, log),
	}
	opts.Link.MaxHello = cfg.Limits.MaxHelloBytes
	r.opts = opts.Link
	if err := r.setupSecurity(); err != nil {
		st.Close()
		return nil, err
	}
	if err := r.openIntake(); err != nil {
		st.Close()
		return nil, err
	}
	if cfg.Parent != nil {
		r.uplink = r.newUplink()
	}
	if err := r.listen(); err != nil {
		r.closeStore()
		return nil, err
	}
	if err := r.listenQUIC(opts.QUICConn); err != nil {
		r.httpLn.Close()
		if r.tcpLn != nil {
			r.tcpLn.Close()
		}
		r.closeStore()
		return nil, err
	}
	return r, nil
}

func (r *Relay) listen() error {
	var err error
	if r.httpLn, err = net.Listen("tcp", r.cfg.Listen.HTTP); err != nil {
		return fmt.Errorf("listen.http %s: %w", r.cfg.Listen.HTTP, err)
	}
	r.httpLn = &limitedListener{Listener: r.httpLn, l: r.limiter, transport: "http"}
	if r.cfg.Listen.TCP != "" {
		if r.tcpLn, err = net.Listen("tcp", r.cfg.Listen.TCP); err != nil {
			r.httpLn.Close()
			return fmt.Errorf("listen.tcp %s: %w", r.cfg.Listen.TCP, err)
		}
		r.tcpLn = &limitedListener{Listener: r.tcpLn, l: r.limiter, transport: "tcp"}
		if r.tls != nil {
			r.tcpLn = tls.NewListener(r.tcpLn, tlsconf.ForLink(r.tls))
		}
	}
	return nil
}

// ID returns the relay's id.
func (r *Relay) ID() string { return r.cfg.ID }

// HTTPAddr returns the bound HTTP address (useful with port 0).
func (r *Relay) HTTPAddr() string { return r.httpLn.Addr().String() }

// URL returns the relay's base URL.
func (r *Relay) URL() string {
	if r.tls != nil {
		return "https://" + r.HTTPAddr()
	}
	return "http://" + r.HTTPAddr()
}

// TCPAddr returns the bound TCP link address, or "".
func (r *Relay) TCPAddr() string {
	if r.tcpLn == nil {
		return ""
	}
	return r.tcpLn.Addr().String()
}

// Start serves the listeners and runs maintenance until Close.
func (r *Relay) Start() {
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.httpLink = r.newHTTPLink()
	lim := r.cfg.Limits
	r.srv = &http.Server{Handler: bodyDeadline(r.handler(), lim.HTTPBodyTimeout), ReadHeaderTimeout: min(10*time.Second, lim.HTTPBodyTimeout), IdleTimeout: lim.HTTPIdleTimeout}
	r.goRun(func() {
		var err error
		if r.tls != nil {
			r.srv.TLSConfig = r.tls.Clone()
			err = r.srv.ServeTLS(r.httpLn, "", "")
		} else {
			err = r.srv.Serve(r.httpLn)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("http server stopped", "err", err)
		}
	})
	if r.tcpLn != nil {
		r.goRun(func() { r.acceptLoop(r.tcpLn, "tcp") })
	}
	if r.quicLn != nil {
		r.goRun(r.quicAcceptLoop)
	}
	r.goRun(r.maintain)
	r.goRun(r.expireLoop)
	if r.uplink != nil {
		r.goRun(func() { r.uplink.run(r.ctx) })
	}
	r.log.Info("relay started", "role", r.cfg.Role, "http", r.HTTPAddr(), "tcp", r.TCPAddr(), "quic", r.QUICAddr(), "tls", r.tls != nil, "auth", r.creds != nil)
}

func (r *Relay) goRun(fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// Close stops serving, ends every link and closes the store.
func (r *Relay) Close() error {
	if r.cancel != nil {
		r.cancel()
	}
	if r.srv != nil {
		r.srv.Close()
	} else {
		r.httpLn.Close()
	}
	if r.tcpLn != nil {
		r.tcpLn.Close()
	}
	if r.quicLn != nil {
		r.quicLn.Close()
	}
	if r.httpLink != nil {
		r.httpLink.Close()
	}
	r.mu.Lock()
	conns := make([]link.Link, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.conns = nil // track refuses links that finish their handshake now
	r.mu.Unlock()
	for _, c := range conns {
		c.Close("relay shutting down")
	}
	r.wg.Wait()
	return r.closeStore()
}

// closeStore closes the journal, whose last records are then submitted to
// the store, and the store.
func (r *Relay) closeStore() error {
	var err error
	if r.intake != nil {
		err = r.intake.close()
	}
	return errors.Join(err, r.store.Close())
}

// maintain prunes old dedupe records now and then.
func (r *Relay) maintain() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			if _, err := r.store.PruneGrants(r.now()); err != nil {
				r.log.Warn("prune file read grants", "err", err)
			}
			if n, err := r.store.PruneSeen(r.now()); err != nil {
				r.log.Warn("prune dedupe records", "err", err)
			} else if n > 0 {
				r.log.Debug("pruned dedupe records", "count", n)
			}
		}
	}
}

// subtree returns this relay and every relay below it, sorted.
func (r *Relay) subtree() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []string{r.cfg.ID}
	for id := range r.routes {
		if id != r.cfg.ID {
			out = append(out, id)
		}
	}
	sort.Strings(out[1:])
	return out
}

// track records a link so that Close can end it. Once Close has begun it
// closes the link instead and returns false: a link whose handshake ended
// while Close ran would otherwise keep Close waiting for it forever.
func (r *Relay) track(c link.Link) bool {
	r.mu.Lock()
	closing := r.conns == nil
	if !closing {
		r.conns[c] = struct{}{}
	}
	r.mu.Unlock()
	if closing {
		c.Close("relay shutting down")
	}
	return !closing
}

func (r *Relay) untrack(c link.Link) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// attachParent serves the link to the parent until it ends.
func (r *Relay) attachParent(c link.Link, w *pb.Welcome) {
	if !r.track(c) {
		return
	}
	defer r.untrack(c)
	r.mu.Lock()
	r.upConn = c
	r.ancestry = append([]string{w.RelayId}, w.Ancestors...)
	r.mu.Unlock()
	c.Run(&peerHandler{r: r, p: peer{kind: peerParent, id: w.RelayId}, conn: c})
	// Announce what joined below while the link was down.
	c.Announce(r.subtree())
	r.pump(parentQueue, c, 0)
	<-c.Done()
	r.mu.Lock()
	if r.upConn == c {
		r.upConn = nil
	}
	r.mu.Unlock()
}
