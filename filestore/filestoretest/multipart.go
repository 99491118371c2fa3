package filestoretest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

// threeParts returns an object of two minimum-size parts and a short one.
func threeParts() (data []byte, parts [][]byte) {
	data = Data(5, 2*filestore.MinPartSize+1234)
	return data, [][]byte{data[:filestore.MinPartSize], data[filestore.MinPartSize : 2*filestore.MinPartSize], data[2*filestore.MinPartSize:]}
}

func uploadParts(t *testing.T, s filestore.Store, key, id string, parts [][]byte) []filestore.Part {
	t.Helper()
	var done []filestore.Part
	for i, p := range parts {
		got, err := s.UploadPart(context.Background(), key, id, i+1, bytes.NewReader(p), int64(len(p)))
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		done = append(done, got)
	}
	return done
}

func testMultipart(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	data, parts := threeParts()
	id, err := s.CreateUpload(ctx, "mp/obj", filestore.PutOptions{SHA256: Sum(data), Size: int64(len(data)), EnvelopeID: "env-mp"})
	if err != nil {
		t.Fatal(err)
	}
	uploadParts(t, s, "mp/obj", id, parts[:2])
	// Part 2 again, as a resumed client might send it.
	uploadParts(t, s, "mp/obj", id, parts[:2])
	listed, err := s.ListParts(ctx, "mp/obj", id)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0].Number != 1 || listed[1].Number != 2 || listed[1].Size != int64(len(parts[1])) {
		t.Fatalf("ListParts = %+v, want parts 1 and 2", listed)
	}
	last, err := s.UploadPart(ctx, "mp/obj", id, 3, bytes.NewReader(parts[2]), int64(len(parts[2])))
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.CompleteUpload(ctx, "mp/obj", id, append(listed, last))
	if err != nil {
		t.Fatal(err)
	}
	if in.Size != int64(len(data)) || in.SHA256 != Sum(data) || in.EnvelopeID != "env-mp" {
		t.Fatalf("CompleteUpload = %+v", in)
	}
	got, err := ReadAll(t, s, "mp/obj", 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after complete: %d bytes, %v", len(got), err)
	}
	_, err = s.ListParts(ctx, "mp/obj", id)
	wantErr(t, "ListParts after complete", err, filestore.ErrNotFound)
}

func testMultipartBadPart(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	data, parts := threeParts()
	id, err := s.CreateUpload(ctx, "mp/bad", filestore.PutOptions{SHA256: Sum(data)})
	if err != nil {
		t.Fatal(err)
	}
	done := uploadParts(t, s, "mp/bad", id, parts)
	bad := append([]filestore.Part(nil), done...)
	bad[1].ETag = "0000"
	_, err = s.CompleteUpload(ctx, "mp/bad", id, bad)
	wantErr(t, "CompleteUpload with a wrong etag", err, filestore.ErrInvalidPart)
	_, err = s.CreateUpload(ctx, "mp/nosum", filestore.PutOptions{})
	if err == nil {
		t.Error("CreateUpload without sha256 succeeded, want an error")
	}
	if err := s.AbortUpload(ctx, "mp/bad", id); err != nil {
		t.Fatal(err)
	}
}

func testMultipartAbort(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	id, err := s.CreateUpload(ctx, "mp/abort", filestore.PutOptions{SHA256: Sum(nil)})
	if err != nil {
		t.Fatal(err)
	}
	uploadParts(t, s, "mp/abort", id, [][]byte{[]byte("hello")})
	if err := s.AbortUpload(ctx, "mp/abort", id); err != nil {
		t.Fatal(err)
	}
	_, err = s.ListParts(ctx, "mp/abort", id)
	wantErr(t, "ListParts after abort", err, filestore.ErrNotFound)
	_, err = s.Stat(ctx, "mp/abort")
	wantErr(t, "Stat after abort", err, filestore.ErrNotFound)
}

func testCorruption(t *testing.T, b Backend) {
	if b.Corrupt == nil {
		t.Skip("backend gives no way to corrupt an object")
	}
	s := b.Open(t)
	data := Data(6, 40_000)
	mustPut(t, s, "c/study.zip", data, filestore.PutOptions{SHA256: Sum(data)})
	b.Corrupt(t, s, "c/study.zip")
	in, err := s.Stat(context.Background(), "c/study.zip")
	if err != nil || in.SHA256 != Sum(data) {
		t.Fatalf("Stat after corruption = %+v, %v; want the recorded sha256 kept", in, err)
	}
	_, err = ReadAll(t, s, "c/study.zip", 0)
	wantErr(t, "reading a corrupted object", err, filestore.ErrChecksumMismatch)
	if !strings.Contains(err.Error(), "c/study.zip") {
		t.Errorf("error %q does not name the file", err)
	}
}

func testGC(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)
	mustPut(t, s, "gc/expired", []byte("1"), filestore.PutOptions{EnvelopeID: "done", Expires: past})
	mustPut(t, s, "gc/queued", []byte("2"), filestore.PutOptions{EnvelopeID: "queued", Expires: past})
	mustPut(t, s, "gc/fresh", []byte("3"), filestore.PutOptions{EnvelopeID: "done", Expires: time.Now().Add(time.Hour)})
	inUse := func(id string) bool { return id == "queued" }
	res, err := filestore.GC(ctx, s, filestore.GCOptions{InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 1 || res.Kept != 1 || res.Scanned != 3 {
		t.Errorf("GC = %+v, want 3 scanned, 1 removed, 1 kept", res)
	}
	for key, want := range map[string]bool{"gc/expired": false, "gc/queued": true, "gc/fresh": true} {
		_, err := s.Stat(ctx, key)
		if got := err == nil; got != want {
			t.Errorf("after GC %s exists = %v, want %v", key, got, want)
		}
	}
	// The age limit removes the fresh one too, but never the queued one.
	later := func() time.Time { return time.Now().Add(48 * time.Hour) }
	res, err = filestore.GC(ctx, s, filestore.GCOptions{InUse: inUse, OlderThan: 24 * time.Hour, Now: later})
	if err != nil || res.Removed != 1 || res.Kept != 1 {
		t.Errorf("GC older than 24h = %+v, %v; want 1 removed, 1 kept", res, err)
	}
	if _, err := filestore.GC(ctx, s, filestore.GCOptions{}); err == nil {
		t.Error("GC without InUse ran, want an error")
	}
}

func testPresign(t *testing.T, b Backend) {
	s := b.Open(t)
	p, ok := s.(filestore.Presigner)
	if !ok {
		t.Skip("store is not a Presigner")
	}
	ctx := context.Background()
	data := Data(7, 30_000)
	id, err := s.CreateUpload(ctx, "ps/obj", filestore.PutOptions{SHA256: Sum(data)})
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.Presign(ctx, filestore.PresignRequest{Method: filestore.PresignPart, Key: "ps/obj", UploadID: id, PartNumber: 1, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to presigned URL: %s", resp.Status)
	}
	parts, err := s.ListParts(ctx, "ps/obj", id)
	if err != nil || len(parts) != 1 {
		t.Fatalf("ListParts = %v, %v", parts, err)
	}
	if _, err := s.CompleteUpload(ctx, "ps/obj", id, parts); err != nil {
		t.Fatal(err)
	}
	u, err = p.Presign(ctx, filestore.PresignRequest{Method: filestore.PresignGet, Key: "ps/obj"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("GET presigned URL: %s, %d bytes, want %d", resp.Status, len(got), len(data))
	}
	_, err = p.Presign(ctx, filestore.PresignRequest{Method: filestore.PresignGet, Key: "../x"})
	wantErr(t, "Presign outside the store", err, filestore.ErrInvalidKey)
}
