package tests

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
)

// With auth on, files travel only for clients that prove who they are,
// over TLS with the network's own CA, through a node that uses its
// parent's storage with its own credential.
func TestFilesNeedCredentialsWhenAuthIsOn(t *testing.T) {
	n := newSecNet(t, "main", "county-a")
	main := n.start("main", "tcp", nil, "")
	county := n.start("county-a", "tcp", main, "tcp") // no filestore: uses main's
	waitFor(t, "county-a linked", func() bool { return len(main.Status().Children) == 1 })

	tx := n.dial(county, "clinic-12", "tcp", false)
	rx := n.dial(county, "radiology", "tcp", true)
	got := make(chan *client.Envelope, 1)
	rx.Handle("", func(_ context.Context, e *client.Envelope) error { got <- e; return nil })

	data := bytes.Repeat([]byte("CT slice "), 100000)
	path := filepath.Join(t.TempDir(), "study.bin")
	os.WriteFile(path, data, 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := tx.SendFiles(ctx, "county-a/radiology", "study.ready", nil, nil, []client.Attachment{{Path: path}}, client.TransferOptions{}); err != nil {
		t.Fatalf("send a file with credentials: %v", err)
	}
	var e *client.Envelope
	select {
	case e = <-got:
	case <-ctx.Done():
		t.Fatal("the envelope with the file did not arrive")
	}
	out := filepath.Join(t.TempDir(), "copy.bin")
	if _, err := rx.Download(ctx, e.Files[0], out, nil, client.TransferOptions{}); err != nil {
		t.Fatalf("download with credentials: %v", err)
	}
	if copy, _ := os.ReadFile(out); !bytes.Equal(copy, data) {
		t.Fatal("the downloaded copy differs")
	}

	// Without credentials, and with a wrong token, the file service refuses.
	url := county.URL + "/v1/files/o/" + e.Files[0].Key
	for name, set := range map[string]func(*http.Request){
		"no credentials": func(*http.Request) {},
		"wrong token":    func(r *http.Request) { r.SetBasicAuth("radiology", "not-the-token") },
	} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		set(req)
		resp, err := n.https.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
	}
}
