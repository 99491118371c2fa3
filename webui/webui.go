// Package webui serves a web console under /ui/ from a binary's own
// embedded assets: a page shell with navigation, a small shared
// JavaScript library (console.js: layout, tables, times and sizes, live
// updates over Server-Sent Events with polling as the fallback, the admin
// token) and a stylesheet, plus the pages each binary adds (relay/console
// for relays; the gateway mounts its own the same way).
//
// It serves only static files: every action a page takes goes through the
// binary's documented JSON API, with the admin token the user typed in,
// so a script can do whatever the page does. It never reads a store.
//
// Without auth, the console answers only requests from the machine itself
// (loopback) unless Options.Public is set (ui.public in a relay's config):
// with auth on, the API refuses callers without an admin token anyway.
package webui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strings"
)

// Prefix is where the console is served.
const Prefix = "/ui/"

//go:embed assets
var shared embed.FS

// Page is one page of a console: its entry in the navigation and the
// script (in Options.Pages) that draws it.
type Page struct {
	// ID names the page in the URL (/ui/#ID) and in the navigation's
	// data-page attribute, like "network".
	ID string
	// Title is the navigation's label, like "Network".
	Title string
	// Script is the page's file in Options.Pages, like "network.js". It
	// calls console.page(ID, draw) (see assets/console.js).
	Script string
}

// Options configure a console.
type Options struct {
	// Product is shown in the title bar, like "medrelay relay".
	Product string
	// Name is the instance's name (a relay's id), shown beside Product.
	Name string
	// Pages are the console's pages, in navigation order; the first is
	// the default. Required.
	Pages []Page
	// Assets holds the pages' scripts (and any other file they load,
	// served under /ui/pages/). Required.
	Assets fs.FS
	// Auth tells the page that the API needs an admin token: it asks for
	// one before any API call.
	Auth bool
	// Public serves the console to other machines when Auth is off
	// (default: loopback only).
	Public bool
	// Events is the API path of the Server-Sent Events stream that the
	// pages' live updates read, like "/v1/events"; Poll the path polled
	// instead when the stream fails, like "/v1/network".
	Events, Poll string
}

// Handler serves the console; mount it at Prefix.
type Handler struct {
	opts  Options
	index []byte
	lib   http.Handler
	pages http.Handler
}

// New checks opts and prepares the page shell.
func New(opts Options) (*Handler, error) {
	if len(opts.Pages) == 0 || opts.Assets == nil {
		return nil, fmt.Errorf("webui: Options.Pages and Options.Assets are required")
	}
	for _, p := range opts.Pages {
		if _, err := fs.Stat(opts.Assets, p.Script); err != nil {
			return nil, fmt.Errorf("webui: page %s: script %s: %w", p.ID, p.Script, err)
		}
	}
	var buf bytes.Buffer
	if err := shellTemplate.Execute(&buf, opts); err != nil {
		return nil, fmt.Errorf("webui: page shell: %w", err)
	}
	lib, _ := fs.Sub(shared, "assets")
	return &Handler{
		opts:  opts,
		index: buf.Bytes(),
		lib:   http.StripPrefix(Prefix+"lib/", http.FileServerFS(lib)),
		pages: http.StripPrefix(Prefix+"pages/", http.FileServerFS(opts.Assets)),
	}, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.opts.Auth && !h.opts.Public && !fromLoopback(r) {
		http.Error(w, "the console without auth answers only on the machine itself (loopback): turn auth on, or set ui.public: true", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "the console serves files only: use GET (actions go through the JSON API)", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-cache")
	p := r.URL.Path
	switch {
	case p == Prefix || p == Prefix+"index.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(h.index)
	case strings.HasPrefix(p, Prefix+"lib/"):
		h.lib.ServeHTTP(w, r)
	case strings.HasPrefix(p, Prefix+"pages/") && path.Ext(p) != "":
		h.pages.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// fromLoopback reports whether r came from the machine itself.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

var shellTemplate = template.Must(template.New("shell").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Product}} {{.Name}}</title>
<link rel="stylesheet" href="/ui/lib/console.css">
</head>
<body data-auth="{{.Auth}}" data-events="{{.Events}}" data-poll="{{.Poll}}">
<a class="skip" href="#main">Skip to content</a>
<header>
<span class="product">{{.Product}}</span> <strong id="name">{{.Name}}</strong>
<nav aria-label="Pages">{{range .Pages}}<a href="#{{.ID}}" data-page="{{.ID}}">{{.Title}}</a>{{end}}</nav>
<span id="live" role="status" aria-live="polite">connecting…</span>
<button id="logout" type="button" hidden>Log out</button>
</header>
<main id="main" tabindex="-1"></main>
<script src="/ui/lib/console.js"></script>
{{range .Pages}}<script src="/ui/pages/{{.Script}}"></script>
{{end}}<script src="/ui/lib/start.js"></script>
</body>
</html>
`))
