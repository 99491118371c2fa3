package relay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/envelope"
	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/relay"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

// TestFilesTravelUpTheTree sends a file from a clinic under township-a1
// (no filestore) to a clinic under county-b (no filestore): both use
// main's default local store, two and one levels up.
func TestFilesTravelUpTheTree(t *testing.T) {
	n := startNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := make([]byte, 7<<20) // two parts of 5 MiB
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "study.dcm")
	os.WriteFile(path, data, 0o600)

	sender, err := client.Dial(ctx, client.Options{Relay: n.relays["township-a1"].URL(), ID: "clinic-1", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	res, err := sender.SendFiles(ctx, "county-b/clinic-2", "consult.request", nil, nil,
		[]client.Attachment{{Path: path}}, client.TransferOptions{PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ref := res.Files[0].Ref
	if ref.Store != "main" || ref.Name != "study.dcm" || ref.Size != int64(len(data)) || res.Files[0].PartsSent != 2 {
		t.Fatalf("got ref %v, result %+v", ref, res.Files[0])
	}

	recv, err := client.Dial(ctx, client.Options{Relay: n.relays["county-b"].URL(), ID: "clinic-2", Receive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	got := make(chan *client.Envelope, 1)
	recv.Handle("", func(_ context.Context, e *client.Envelope) error { got <- e; return nil })
	var env *client.Envelope
	select {
	case env = <-got:
	case <-ctx.Done():
		t.Fatal("envelope not received")
	}
	if env.Id != res.ID || len(env.Files) != 1 {
		t.Fatalf("got envelope %v", env)
	}
	out := filepath.Join(t.TempDir(), "copy")
	if _, err := recv.Download(ctx, env.Files[0], out, nil, client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
		t.Fatal("downloaded copy differs")
	}
	var buf bytes.Buffer
	if _, err := recv.Fetch(ctx, env.Files[0], &buf, nil, client.TransferOptions{}); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("fetch: %v", err)
	}

	t.Run("bad references are refused with a reason", func(t *testing.T) {
		tests := []struct {
			name string
			ref  *pb.FileRef
			want error
			msg  string
		}{
			{"outside the store", &pb.FileRef{Store: "main", Key: "../../etc/passwd", Sha256: ref.Sha256}, filestore.ErrInvalidKey, "points outside the store"},
			{"missing object", &pb.FileRef{Store: "main", Key: "main/x/none", Sha256: ref.Sha256, Name: "gone.dcm"}, filestore.ErrNotFound, `file "gone.dcm"`},
			{"other storage", &pb.FileRef{Store: "county-c", Key: ref.Key, Sha256: ref.Sha256}, filestore.ErrNotFound, `held by relay "county-c"`},
			{"wrong digest", &pb.FileRef{Store: "main", Key: ref.Key, Sha256: strings.Repeat("0", 64), Name: "study.dcm"}, filestore.ErrChecksumMismatch, `file "study.dcm"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := recv.Download(ctx, tt.ref, filepath.Join(t.TempDir(), "x"), nil, client.TransferOptions{})
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("got %v, want %v containing %q", err, tt.want, tt.msg)
				}
			})
		}
	})
}

// TestFilesGC checks that gc runs only where the storage is, and never
// removes an object whose envelope is still queued.
func TestFilesGC(t *testing.T) {
	// Main's clock runs 40 days behind while it receives the queued
	// envelope below, whose id is then young by its clock; the files
	// service looks at the id's age by the real clock.
	var behind atomic.Int64
	behind.Store(int64(40 * 24 * time.Hour))
	dir := t.TempDir()
	n := &network{relays: map[string]*relay.Relay{}}
	n.relays["main"] = startRelayOpts(t, "main", "", filepath.Join(dir, "main"), relay.Options{
		Now: func() time.Time { return time.Now().Add(-time.Duration(behind.Load())) },
	})
	n.relays["county-a"] = startRelay(t, "county-a", n.relays["main"].URL(), filepath.Join(dir, "county-a"))
	ctx := context.Background()
	fc := func(url string) *filehttp.Client {
		c, err := filehttp.NewClient(filehttp.ClientOptions{BaseURL: url + "/v1/files/"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := fc(n.relays["county-a"].URL()).GC(ctx, filehttp.GCRequest{}); err == nil || !strings.Contains(err.Error(), "keeps no files") {
		t.Fatalf("gc at a node without storage: got %v", err)
	}
	// An envelope with a file, queued at main for an offline client.
	sender, err := client.Dial(ctx, client.Options{Relay: n.relays["main"].URL(), ID: "clinic-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	queued := oldID(t, 40*24*time.Hour)
	if _, err := sender.Send(ctx, "main/offline", "x", nil, nil, client.WithFiles(&pb.FileRef{Key: "q"}),
		func(e *pb.Envelope) { e.Id = queued }); err != nil {
		t.Fatal(err)
	}
	behind.Store(0)
	m := fc(n.relays["main"].URL())
	past := time.Now().Add(-time.Hour)
	for key, id := range map[string]string{"queued": queued, "old": oldID(t, 40*24*time.Hour), "young": envelope.NewID()} {
		if _, err := m.Put(ctx, key, strings.NewReader(key), filestore.PutOptions{EnvelopeID: id, Expires: past}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := m.GC(ctx, filehttp.GCRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 1 || res.Kept != 2 {
		t.Fatalf("got %+v, want old removed, queued and young kept", res)
	}
	if _, err := m.Stat(ctx, "queued"); err != nil {
		t.Fatalf("queued object: %v", err)
	}
	if _, err := m.Stat(ctx, "old"); !errors.Is(err, filestore.ErrNotFound) {
		t.Fatalf("old object: got %v, want not found", err)
	}
}

// oldID returns a UUIDv7 envelope id made age ago.
func oldID(t *testing.T, age time.Duration) string {
	id := []byte(envelope.NewID())
	ms := uint64(time.Now().Add(-age).UnixMilli())
	hex := []byte("0123456789abcdef")
	// The first 48 bits (12 hex digits, with a dash after 8) are the time.
	digits := make([]byte, 12)
	for i := 11; i >= 0; i-- {
		digits[i] = hex[ms&0xf]
		ms >>= 4
	}
	copy(id[0:8], digits[0:8])
	copy(id[9:13], digits[8:12])
	if _, err := envelope.IDTime(string(id)); err != nil {
		t.Fatal(err)
	}
	return string(id)
}
