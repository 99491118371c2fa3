package filestoretest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/filestore"
)

func testPutGetStat(t *testing.T, b Backend) {
	s := b.Open(t)
	data := Data(1, 100_000)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	opts := filestore.PutOptions{SHA256: Sum(data), Size: int64(len(data)), EnvelopeID: "env-1",
		MediaType: "application/dicom", Expires: exp}
	mustPut(t, s, "studies/1.2.3/a.dcm", data, opts)
	in, err := s.Stat(context.Background(), "studies/1.2.3/a.dcm")
	if err != nil {
		t.Fatal(err)
	}
	want := filestore.Info{Key: "studies/1.2.3/a.dcm", Size: int64(len(data)), SHA256: Sum(data),
		EnvelopeID: "env-1", MediaType: "application/dicom", Expires: exp}
	in.Modified = time.Time{}
	if !in.Expires.Equal(want.Expires) {
		t.Errorf("Expires = %v, want %v", in.Expires, want.Expires)
	}
	in.Expires = want.Expires
	if in != want {
		t.Errorf("Stat = %+v, want %+v", in, want)
	}
	got, err := ReadAll(t, s, "studies/1.2.3/a.dcm", 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, err %v; want %d bytes", len(got), err, len(data))
	}
}

func testPutComputesSHA256(t *testing.T, b Backend) {
	s := b.Open(t)
	data := Data(2, 70_000)
	// A reader that hides its size, as an HTTP body does.
	in, err := s.Put(context.Background(), "x/unsized", io.MultiReader(bytes.NewReader(data)), filestore.PutOptions{EnvelopeID: "e"})
	if err != nil {
		t.Fatal(err)
	}
	if in.SHA256 != Sum(data) || in.Size != int64(len(data)) {
		t.Fatalf("Put = size %d sha %s, want %d %s", in.Size, in.SHA256, len(data), Sum(data))
	}
	st, err := s.Stat(context.Background(), "x/unsized")
	if err != nil || st.SHA256 != Sum(data) || st.EnvelopeID != "e" {
		t.Fatalf("Stat = %+v, %v; want sha %s", st, err, Sum(data))
	}
}

func testPutChecksumMismatch(t *testing.T, b Backend) {
	s := b.Open(t)
	data := Data(3, 10_000)
	_, err := s.Put(context.Background(), "bad", bytes.NewReader(data), filestore.PutOptions{SHA256: Sum([]byte("other"))})
	wantErr(t, "Put with wrong sha256", err, filestore.ErrChecksumMismatch)
	if !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("error %q does not name the key", err)
	}
	_, err = s.Stat(context.Background(), "bad")
	wantErr(t, "Stat after refused Put", err, filestore.ErrNotFound)
}

func testGetOffset(t *testing.T, b Backend) {
	s := b.Open(t)
	data := Data(4, 50_000)
	mustPut(t, s, "off", data, filestore.PutOptions{})
	for _, off := range []int64{0, 1, 49_999, 50_000} {
		got, err := ReadAll(t, s, "off", off)
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Errorf("Get at %d: %d bytes, %v; want %d bytes", off, len(got), err, len(data)-int(off))
		}
	}
	rc, in, err := s.Get(context.Background(), "off", 100)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if in.Size != int64(len(data)) || in.SHA256 != Sum(data) {
		t.Errorf("Get at 100: Info %+v, want whole object's size and sha", in)
	}
}

func testNotFound(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	_, err := s.Stat(ctx, "missing/x")
	wantErr(t, "Stat", err, filestore.ErrNotFound)
	_, _, err = s.Get(ctx, "missing/x", 0)
	wantErr(t, "Get", err, filestore.ErrNotFound)
	_, err = s.ListParts(ctx, "missing/x", "0123456789abcdef0123456789abcdef")
	wantErr(t, "ListParts", err, filestore.ErrNotFound)
	if err := s.Delete(ctx, "missing/x"); err != nil {
		t.Errorf("Delete of missing key: %v, want nil", err)
	}
}

func testInvalidKeys(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	for _, key := range []string{"", "../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", `a\b`, "a/", "sp ace", "ü", strings.Repeat("k", filestore.MaxKeyLen+1)} {
		_, err := s.Put(ctx, key, strings.NewReader("x"), filestore.PutOptions{})
		wantErr(t, "Put "+key, err, filestore.ErrInvalidKey)
		_, _, err = s.Get(ctx, key, 0)
		wantErr(t, "Get "+key, err, filestore.ErrInvalidKey)
		_, err = s.Stat(ctx, key)
		wantErr(t, "Stat "+key, err, filestore.ErrInvalidKey)
		wantErr(t, "Delete "+key, s.Delete(ctx, key), filestore.ErrInvalidKey)
		_, err = s.CreateUpload(ctx, key, filestore.PutOptions{SHA256: Sum(nil)})
		wantErr(t, "CreateUpload "+key, err, filestore.ErrInvalidKey)
	}
}

func testDeleteList(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	for _, k := range []string{"p/a", "p/b/c", "q/d"} {
		mustPut(t, s, k, []byte(k), filestore.PutOptions{EnvelopeID: "env-" + k})
	}
	if err := s.Delete(ctx, "p/a"); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := s.List(ctx, "p/", func(in filestore.Info) error {
		if in.EnvelopeID != "env-"+in.Key || in.SHA256 != Sum([]byte(in.Key)) {
			t.Errorf("List gave %+v", in)
		}
		got = append(got, in.Key)
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != "p/b/c" {
		t.Fatalf("List(p/) = %v, %v; want [p/b/c]", got, err)
	}
	stop := errors.New("stop")
	if err := s.List(ctx, "", func(filestore.Info) error { return stop }); err != stop {
		t.Errorf("List stopped by callback returned %v, want the callback's error", err)
	}
}
