package relay

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// connLimiter bounds the open connections of all listeners together
// (limits.max_connections) and per source IP address
// (limits.max_connections_per_address), before anything is read from
// them: a peer that opens connections without authenticating cannot make
// the relay hold more than these.
type connLimiter struct {
	max, perAddr int
	log          *slog.Logger

	mu      sync.Mutex
	total   int
	byAddr  map[string]int
	refused int // since the last log line
	logged  time.Time
}

func newConnLimiter(max, perAddr int, log *slog.Logger) *connLimiter {
	return &connLimiter{max: max, perAddr: perAddr, log: log, byAddr: make(map[string]int)}
}

// acquire counts a new connection from addr, or says why it is refused.
// release must be called once when it closes.
func (l *connLimiter) acquire(addr net.Addr) (release func(), err error) {
	ip := hostOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.max:
		return nil, fmt.Errorf("the relay has %d connections open, its limit (limits.max_connections)", l.total)
	case l.byAddr[ip] >= l.perAddr:
		return nil, fmt.Errorf("%s has %d connections open, the limit per address (limits.max_connections_per_address)", ip, l.byAddr[ip])
	}
	l.total++
	l.byAddr[ip]++
	return sync.OnceFunc(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total--
		if l.byAddr[ip]--; l.byAddr[ip] <= 0 {
			delete(l.byAddr, ip)
		}
	}), nil
}

// refuse logs a refused connection, at most once a second (a flood of
// connections must not become a flood of log lines).
func (l *connLimiter) refuse(transport string, addr net.Addr, err error) {
	l.mu.Lock()
	l.refused++
	n := l.refused
	if time.Since(l.logged) < time.Second {
		l.mu.Unlock()
		return
	}
	l.logged, l.refused = time.Now(), 0
	l.mu.Unlock()
	l.log.Warn("connection refused", "transport", transport, "remote", addr.String(), "reason", err.Error(), "refused_since_last_log", n)
}

// open returns the number of connections open.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func hostOf(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// limitedListener closes connections over the limiter's limits as soon
// as they are accepted.
type limitedListener struct {
	net.Listener
	l         *connLimiter
	transport string
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, err := ln.l.acquire(c.RemoteAddr())
		if err != nil {
			ln.l.refuse(ln.transport, c.RemoteAddr(), err)
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: release}, nil
	}
}

// limitedConn gives its place back when it closes.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
