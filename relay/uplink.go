package relay

import (
	"context"
	"sync"
	"time"

	"github.com/medrelay/medrelay/adminapi"
	"github.com/medrelay/medrelay/link/hello"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// uplink keeps a node linked to its parent with a hello.Redialer (the
// same one the SDK uses): it says hello as a child with the node's
// current subtree, hands each established link to attachParent, and keeps
// the state /v1/status and /readyz show.
type uplink struct {
	url    string
	redial *hello.Redialer
	r      *Relay

	mu    sync.Mutex
	state adminapi.ParentLink
}

// newUplink prepares the node's link to its parent (cfg.Parent).
func (r *Relay) newUplink() *uplink {
	p := r.cfg.Parent
	u := &uplink{url: p.URL, r: r}
	u.redial = hello.NewRedialer(hello.RedialOptions{
		URL:            p.URL,
		Transport:      p.Transport,
		TLS:            r.parentTLS(),
		Token:          p.Token,
		AllowPlaintext: p.AllowPlaintext,
		Link:           r.opts,
		RetryPreferred: p.RetryPreferred,
		Hello: func() *pb.Hello {
			return &pb.Hello{RelayId: r.cfg.ID, Subtree: r.subtree(), Version: Version}
		},
		Logger: r.log,
	})
	u.state = adminapi.ParentLink{State: "connecting", URL: p.URL, Since: time.Now()}
	return u
}

// State returns a snapshot of the uplink's state.
func (u *uplink) State() adminapi.ParentLink {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

// run connects and reconnects until ctx ends.
func (u *uplink) run(ctx context.Context) {
	u.redial.Run(ctx, nil, hello.Events{
		Serve: u.serve,
		Down:  u.down,
		Preferred: func(t string) {
			u.r.log.Info("parent's preferred transport answers again", "transport", t)
		},
	})
}

func (u *uplink) serve(_ context.Context, d *hello.Dialed) {
	u.mu.Lock()
	u.state = adminapi.ParentLink{State: "connected", URL: u.url, Parent: d.Welcome.RelayId, Transport: d.Transport.Name, Addr: d.Transport.Addr, Since: time.Now(), Attempts: u.state.Attempts}
	u.mu.Unlock()
	u.r.log.Info("parent link up", "parent", d.Welcome.RelayId, "transport", d.Transport.Name, "addr", d.Transport.Addr)
	u.r.attachParent(d.Link, d.Welcome)
}

func (u *uplink) down(err error, wait time.Duration) {
	u.r.log.Warn("parent link down", "parent", u.url, "err", err, "retry_in", wait)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.state.State != "connecting" {
		u.state.Since = time.Now()
	}
	u.state.State = "connecting"
	u.state.Transport, u.state.Addr = "", ""
	u.state.Attempts++
	if err != nil {
		u.state.LastError = err.Error()
	}
}
