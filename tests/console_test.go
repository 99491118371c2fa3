package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// rowState returns the data-state of relay id's row on the Network page.
func rowState(b *browser, id string) string {
	return eval[string](b, fmt.Sprintf(`(function(){var r=document.querySelector('tr[data-relay=%q]');return r?r.dataset.state:""})()`, id))
}

// The relay console against four real relays: the network at a glance, a
// county killed and restarted, an audit search and the chain check, and
// a dead letter replayed once its relay joins. One topology serves every
// part, to keep the browser tests short.
func TestConsoleRelay(t *testing.T) {
	b := newBrowser(t)
	tp := startTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("network", func(t *testing.T) {
		b.t = t
		b.run("open the network page", chromedp.Navigate(tp.main.URL+"/ui/#network"))
		b.waitFor("four relays on the network page", 10*time.Second, func() bool {
			return eval[int](b, `document.querySelectorAll('tr[data-relay]').length`) == 4
		})
		for id, want := range map[string]string{"main": "self", "county-a": "up", "county-b": "up", "township-a1": "reported"} {
			if got := rowState(b, id); got != want {
				t.Errorf("%s shows %q, want %q", id, got, want)
			}
		}
		if row := b.text(`tr[data-relay="county-b"]`); !strings.Contains(row, "tcp") {
			t.Errorf("county-b's row %q does not name its transport, tcp", row)
		}
		if live := b.text("#live"); live != "live" {
			t.Errorf("live indicator says %q, want live (the SSE stream)", live)
		}
		b.screenshot("network-up")

		tp.countyB.Kill()
		took := b.waitFor("county-b red", 5*time.Second, func() bool { return rowState(b, "county-b") == "down" })
		t.Logf("county-b turned red %v after kill -9", took.Round(10*time.Millisecond))
		color := eval[string](b, `getComputedStyle(document.querySelector('tr[data-relay="county-b"] .badge')).backgroundColor`)
		if color != "rgb(198, 40, 40)" {
			t.Errorf("county-b's badge is %s, want red rgb(198, 40, 40)", color)
		}
		since := eval[string](b, `document.querySelector('tr[data-relay="county-b"] time').getAttribute('datetime')`)
		if at, err := time.Parse(time.RFC3339, since); err != nil || time.Since(at) > time.Minute {
			t.Errorf("county-b down since %q, want the time of the kill", since)
		}
		// What main holds for the county while it is down shows on its row.
		if _, err := ctl(t, ctx, "send", "--relay", tp.main.URL, "--id", "desk", "--to", "county-b/radiology", "--command", "consult.request"); err != nil {
			t.Fatal(err)
		}
		queued := func() string {
			return eval[string](b, `[...document.querySelectorAll('tr[data-relay="county-b"] td')].map(td=>td.innerText).join("|")`)
		}
		b.waitFor("one envelope queued for county-b", 10*time.Second, func() bool { return strings.Contains(queued(), "|1|") })
		b.screenshot("network-county-b-down")

		tp.countyB.Start()
		b.waitFor("county-b green again", 30*time.Second, func() bool { return rowState(b, "county-b") == "up" })
		b.waitFor("county-b's queue drained", 10*time.Second, func() bool { return strings.Contains(queued(), "|0|") })
		b.screenshot("network-county-b-up-again")
	})

	t.Run("audit", func(t *testing.T) {
		b.t = t
		id, err := ctl(t, ctx, "send", "--relay", tp.townshipA1.URL, "--id", "clinic-7", "--to", "county-b/radiology", "--command", "consult.console-test")
		if err != nil {
			t.Fatal(err)
		}
		id = strings.TrimSpace(id)
		waitFor(t, "main audits the envelope", func() bool {
			out, _ := ctl(t, ctx, "audit", "--relay", tp.main.URL, "--command", "consult.console-test", "--json")
			return strings.Contains(out, id)
		})
		b.run("search by command", chromedp.Navigate(tp.main.URL+"/ui/#audit"),
			chromedp.WaitVisible("#a-command"),
			chromedp.SendKeys("#a-command", "consult.console-test"),
			chromedp.Click(`form button[type="submit"]`))
		row := fmt.Sprintf(`tr[data-id=%q]`, id)
		b.waitFor("the envelope in the results", 10*time.Second, func() bool { return b.text(row) != "" })
		if got, want := b.text(row+" .route"), "township-a1 → main → county-b"; got != want {
			t.Errorf("route %q, want %q", got, want)
		}
		if got := b.text("#a-count"); got != "1 record" {
			t.Errorf("the search found %q, want 1 record", got)
		}
		b.run("verify the chain", chromedp.Click("#a-verify-btn"))
		b.waitFor("the chain check", 10*time.Second, func() bool { return strings.HasPrefix(b.text("#a-verify"), "Chain") })
		if got := b.text("#a-verify"); !strings.HasPrefix(got, "Chain OK") {
			t.Errorf("verify shows %q, want Chain OK", got)
		}
		b.screenshot("audit")

		// A copy of main's data with one byte of that record flipped,
		// served by a second main: the check shows the broken record.
		copyDir := t.TempDir()
		tampered := copyData(t, filepath.Join(filepath.Dir(tp.main.cfgPath), "data"), filepath.Join(copyDir, "main", "data"), `"id":"`+id+`"`)
		if tampered == 0 {
			t.Fatal("the audit record was not found in main's bbolt file")
		}
		cp := newRelay(t, copyDir, "main", nil, "")
		b.run("verify the tampered copy", chromedp.Navigate(cp.URL+"/ui/#audit"),
			chromedp.WaitVisible("#a-verify-btn"),
			chromedp.Click("#a-verify-btn"))
		b.waitFor("the chain check", 10*time.Second, func() bool { return strings.HasPrefix(b.text("#a-verify"), "Chain") })
		if got := b.text("#a-verify"); !strings.HasPrefix(got, "Chain BROKEN") {
			t.Errorf("verify of the tampered copy shows %q, want Chain BROKEN", got)
		}
		b.screenshot("audit-tampered")
	})

	t.Run("files and keys", func(t *testing.T) {
		b.t = t
		b.run("open the network page", chromedp.Navigate(tp.main.URL+"/ui/#network"), chromedp.WaitVisible(`tr[data-relay="main"]`))
		// Key 4 opens the fourth page, Files, on main.
		b.run("press 4", chromedp.KeyEvent("4"))
		b.waitFor("the files page", 10*time.Second, func() bool { return b.text("#f-total") != "" })
		if got := b.text("#f-info"); !strings.Contains(got, "local") || !strings.Contains(got, "main") {
			t.Errorf("files page says %q, want main's local store", got)
		}
		if got := eval[string](b, `location.hash`); got != "#files" {
			t.Errorf("after key 4 the page is %q, want #files", got)
		}
		if got := b.text("#f-gc"); !strings.Contains(got, "No gc has run") {
			t.Errorf("before any gc the page says %q", got)
		}
		b.run("a dry run", chromedp.Click(`#f-older`), chromedp.KeyEvent("\b1"), chromedp.KeyEvent("\r"))
		b.waitFor("the dry run's result", 10*time.Second, func() bool { return strings.HasPrefix(b.text("#f-gc"), "Last gc: Dry run") })
		if got := b.text("#f-gc"); !strings.Contains(got, "older than 1 day)") || !strings.Contains(got, "would remove 0") {
			t.Errorf("the last gc says %q", got)
		}
	})

	t.Run("dead letter", func(t *testing.T) {
		b.t = t
		id, err := ctl(t, ctx, "send", "--relay", tp.main.URL, "--id", "clinic", "--to", "county-zz/rx", "--command", "consult.request")
		if err != nil {
			t.Fatal(err)
		}
		id = strings.TrimSpace(id)
		b.run("open the queues page", chromedp.Navigate(tp.main.URL+"/ui/#queues"))
		var seq string
		b.waitFor("the dead letter", 10*time.Second, func() bool {
			seq = eval[string](b, fmt.Sprintf(`(function(){var r=[...document.querySelectorAll('#dead tr[data-seq]')].find(r=>r.innerText.includes(%q));return r?r.dataset.seq:""})()`, id))
			return seq != ""
		})
		if row := b.text(`#dead tr[data-seq="` + seq + `"]`); !strings.Contains(row, "unknown relay county-zz") {
			t.Errorf("dead letter row %q does not give the reason", row)
		}
		// The table is redrawn as dead letters come and go: click by selector.
		replay := fmt.Sprintf(`document.querySelector('#dead button[data-seq="%s"]').click()`, seq)
		eval[chromedp.Void](b, replay)
		b.waitFor("the refusal", 10*time.Second, func() bool { return strings.Contains(b.text("#replay-result"), "not replayed") })
		if got := b.text("#replay-result"); !strings.Contains(got, "still no route") {
			t.Errorf("early replay shows %q, want a refusal saying there is still no route", got)
		}
		zz := newRelay(t, filepath.Dir(filepath.Dir(tp.main.cfgPath)), "county-zz", tp.main, "")
		waitFor(t, "county-zz linked", func() bool { return routedRelays(tp.main) == 4 })
		eval[chromedp.Void](b, replay)
		b.waitFor("the replay's answer", 10*time.Second, func() bool {
			return strings.Contains(b.text("#replay-result"), "replayed:") && !strings.Contains(b.text("#replay-result"), "…")
		})
		if got := b.text("#replay-result"); !strings.Contains(got, "queued for child/county-zz") {
			t.Errorf("replay shows %q", got)
		}
		recv, err := ctl(t, ctx, "listen", "--relay", zz.URL, "--id", "rx", "--count", "1", "--timeout", "20s")
		if err != nil || !strings.Contains(recv, id) {
			t.Fatalf("the replayed envelope did not arrive: %q, %v", recv, err)
		}
		b.screenshot("dead-letters")
	})
}

// copyData copies a relay's data directory and flips one byte inside each
// occurrence of marker in its bbolt file; it returns how many it changed.
func copyData(t *testing.T, from, to, marker string) int {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(to, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte(marker)) {
			return err
		}
		for i := bytes.Index(data, []byte(marker)); i >= 0; {
			data[i+len(marker)-2] ^= 0x01 // a character of the envelope id
			n++
			j := bytes.Index(data[i+1:], []byte(marker))
			if j < 0 {
				break
			}
			i += 1 + j
		}
		return os.WriteFile(p, data, 0o644)
	})
	return n
}

// With auth on, the console asks for an admin token and no API call
// succeeds without one; a client's token is refused; an admin's opens it.
func TestConsoleNeedsAnAdminToken(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds.txt")
	admin := medrelay(t, "credentials", "add", "--file", creds, "--id", "ops", "--role", "admin")
	client := medrelay(t, "credentials", "add", "--file", creds, "--id", "clinic-7")
	p := newRelay(t, dir, "main", nil, "auth:\n  credentials_file: "+creds+"\n  allow_plaintext: true\n")
	p.admin = admin

	b.run("open the console", chromedp.Navigate(p.URL+"/ui/"), chromedp.WaitVisible("#token"))
	// The page's own API calls: none may have succeeded.
	ok := eval[[]string](b, `performance.getEntriesByType('resource').filter(e=>e.name.includes('/v1/')&&e.responseStatus===200).map(e=>e.name)`)
	if len(ok) != 0 {
		t.Errorf("without a token the page got answers from %v", ok)
	}
	for _, path := range []string{"/v1/network", "/v1/status", "/v1/deadletters", "/v1/audit", "/v1/events"} {
		status := eval[int](b, fmt.Sprintf(`fetch(%q).then(r=>r.status)`, path))
		if status != 401 {
			t.Errorf("GET %s without a token from the page: %d, want 401", path, status)
		}
	}
	b.screenshot("login")

	// Enter in the field submits the form (the keyboard is enough).
	b.run("log in with a client's token", chromedp.SendKeys("#token", client+"\r"))
	b.waitFor("the refusal", 10*time.Second, func() bool { return strings.Contains(b.text("#login-message"), "refused") })
	if got := b.text("#login-message"); !strings.Contains(got, "role admin") {
		t.Errorf("the refusal of a client's token says %q, want why (it needs role admin)", got)
	}

	b.run("log in with the admin's token", chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", admin+"\r"))
	b.waitFor("the network page", 10*time.Second, func() bool { return rowState(b, "main") == "self" })
	stored := eval[string](b, `sessionStorage.getItem("medrelay.token")`)
	if stored != admin {
		t.Errorf("the token is not kept in sessionStorage")
	}
}
