// Package console is a relay's web console: the pages (Network, Queues
// and dead letters, Audit on main, Files) that package webui serves at
// /ui/ from the relay's binary. The pages are plain JavaScript embedded
// here; they read and act only through the relay's admin API
// (docs/http-api.md), with the admin token when auth is on.
package console

import (
	"embed"
	"io/fs"

	"github.com/medrelay/medrelay/webui"
)

//go:embed pages
var pages embed.FS

// Handler returns the console of relay id with role (main or node). auth
// says the admin API needs a token; public serves the console beyond
// loopback without auth (ui.public).
func Handler(id, role string, auth, public bool) (*webui.Handler, error) {
	assets, err := fs.Sub(pages, "pages")
	if err != nil {
		return nil, err
	}
	ps := []webui.Page{
		{ID: "network", Title: "Network", Script: "network.js"},
		{ID: "queues", Title: "Queues and dead letters", Script: "queues.js"},
	}
	if role == "main" {
		ps = append(ps, webui.Page{ID: "audit", Title: "Audit", Script: "audit.js"})
	}
	ps = append(ps, webui.Page{ID: "files", Title: "Files", Script: "files.js"})
	return webui.New(webui.Options{
		Product: "medrelay", Name: id, Pages: ps, Assets: assets,
		Auth: auth, Public: public, Events: "/v1/events", Poll: "/v1/network",
	})
}
