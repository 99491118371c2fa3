package relay_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/link/tlsconf"
	"github.com/medrelay/medrelay/relay/auth"
	"github.com/medrelay/medrelay/relay/config"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// With auth on, a client writes only under its own prefix and reads only
// its own files and those of envelopes delivered to it; a reference whose
// key ends in "/" grants every key under it; PUTs are bounded.
func TestFileAccessIsTiedToTheKey(t *testing.T) {
	s := startSecuredMain(t, func(c *config.Config) {
		c.Limits.MaxFilePutBytes = 1 << 20
		c.Limits.MaxFileBytesPerCaller = 2 << 20
	})
	tokA := s.add(t, "clinic-a", auth.RoleClient)
	tokB := s.add(t, "clinic-b", auth.RoleClient)
	tokR := s.add(t, "radiology", auth.RoleClient)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	data := bytes.Repeat([]byte("CT "), 1000)
	path := filepath.Join(t.TempDir(), "study.dcm")
	os.WriteFile(path, data, 0o600)
	sender := s.dialAs(t, "clinic-a", tokA, false)
	res, err := sender.SendFiles(ctx, "main/radiology", "study.ready", nil, nil, []client.Attachment{{Path: path}}, client.TransferOptions{Proxy: true})
	if err != nil {
		t.Fatal(err)
	}
	key := res.Files[0].Ref.Key
	if !strings.HasPrefix(key, "main/clinic-a/") {
		t.Fatalf("key %q is not under the sender's prefix", key)
	}

	tc, _ := tlsconf.Client(s.main.URL(), tlsconf.ClientOptions{CAFile: s.ca})
	hc := tlsconf.HTTPClient(tc)
	do := func(method, key, id, tok string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.main.URL()+"/v1/files/o/"+key, bytes.NewReader(body))
		req.SetBasicAuth(id, tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("GET", key, "clinic-b", tokB, nil); code != http.StatusForbidden || !strings.Contains(body, "may read only its own files") {
		t.Fatalf("another clinic reads the study: %d %s, want 403 with the reason", code, body)
	}
	if code, body := do("PUT", key, "clinic-b", tokB, []byte("forged")); code != http.StatusForbidden || !strings.Contains(body, "own prefix main/clinic-b/") {
		t.Fatalf("another clinic overwrites the study: %d %s, want 403 naming its own prefix", code, body)
	}
	if code, _ := do("GET", key, "clinic-a", tokA, nil); code != http.StatusOK {
		t.Fatalf("the sender reads its own file: %d", code)
	}
	// Radiology reads it once the envelope is delivered to it.
	rx := s.dialAs(t, "radiology", tokR, true)
	got := make(chan *client.Envelope, 4)
	rx.Handle("", func(_ context.Context, e *client.Envelope) error { got <- e; return nil })
	e := <-got
	if _, err := rx.Fetch(ctx, e.Files[0], io.Discard, nil, client.TransferOptions{Proxy: true}); err != nil {
		t.Fatalf("the recipient downloads: %v", err)
	}
	if code, _ := do("GET", key, "radiology", tokR, nil); code != http.StatusOK {
		t.Fatalf("the recipient reads: %d", code)
	}

	// One reference ending in "/" grants a whole study's objects.
	for _, k := range []string{"main/clinic-a/study-9/1.dcm", "main/clinic-a/study-9/series-2/2.dcm"} {
		if code, body := do("PUT", k, "clinic-a", tokA, []byte("x")); code/100 != 2 {
			t.Fatalf("put %s: %d %s", k, code, body)
		}
		if code, _ := do("GET", k, "radiology", tokR, nil); code != http.StatusForbidden {
			t.Fatalf("read %s before any envelope: %d, want 403", k, code)
		}
	}
	if _, err := sender.Send(ctx, "main/radiology", "study.available", nil, nil,
		client.WithFiles(&pb.FileRef{Store: "main", Key: "main/clinic-a/study-9/", Sha256: strings.Repeat("0", 64)})); err != nil {
		t.Fatal(err)
	}
	<-got
	for _, k := range []string{"main/clinic-a/study-9/1.dcm", "main/clinic-a/study-9/series-2/2.dcm"} {
		if code, _ := do("GET", k, "radiology", tokR, nil); code != http.StatusOK {
			t.Fatalf("read %s granted by the prefix: %d, want 200", k, code)
		}
	}
	if code, _ := do("GET", "main/clinic-a/study-10/1.dcm", "radiology", tokR, nil); code != http.StatusForbidden {
		t.Fatalf("the prefix grant leaks to study-10: %d", code)
	}
	// A PUT over limits.max_file_put_bytes.
	if code, body := do("PUT", "main/clinic-a/big", "clinic-a", tokA, make([]byte, 1<<20+1)); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "limits.max_file_put_bytes") {
		t.Fatalf("an oversized PUT: %d %s, want 413 naming the key", code, body)
	}
	// limits.max_file_bytes_per_caller: clinic-a has PUT about 3 KB; two
	// more MiB pass its bound of 2 MiB a day, and clinic-b is not charged.
	if code, body := do("PUT", "main/clinic-a/p1", "clinic-a", tokA, make([]byte, 1<<20)); code/100 != 2 {
		t.Fatalf("a PUT within the day's bound: %d %s", code, body)
	}
	if code, body := do("PUT", "main/clinic-a/p2", "clinic-a", tokA, make([]byte, 1<<20)); code != http.StatusForbidden || !strings.Contains(body, "limits.max_file_bytes_per_caller") {
		t.Fatalf("a PUT past the day's bound: %d %s, want 403 naming the key", code, body)
	}
	if code, body := do("PUT", "main/clinic-b/p1", "clinic-b", tokB, make([]byte, 1<<20)); code/100 != 2 {
		t.Fatalf("another client's PUT: %d %s", code, body)
	}
}
