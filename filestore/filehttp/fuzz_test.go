package filehttp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/internal/fuzzseed"
)

// FuzzParseRange checks the Range header parser: an offset it accepts is
// not negative and reads back from the header clients send.
func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-")
	f.Fuzz(func(t *testing.T, v string) {
		off, ok := parseRange(v)
		if !ok {
			return
		}
		if off < 0 {
			t.Fatalf("parseRange(%q) = %d, a negative offset", v, off)
		}
		if again, ok := parseRange(fmt.Sprintf("bytes=%d-", off)); !ok || again != off {
			t.Fatalf("parseRange(%q) = %d, but bytes=%d- parses to %d, %v", v, off, off, again, ok)
		}
	})
}

// fuzzSigningKey signs the seeds of FuzzVerify.
var fuzzSigningKey = []byte(strings.Repeat("k", 32))

const fuzzBase = "http://relay.test/v1/files/"

// FuzzVerify checks signed URLs: whatever the method and URL, verify
// does not panic, and a request it accepts is refused once any signed
// part of it (key, upload, part, expiry or method) changes.
func FuzzVerify(f *testing.F) {
	f.Add("GET", "a/b?mr-expires=1&mr-signature=00")
	h := &Handler{opts: Options{SigningKey: fuzzSigningKey, BaseURL: fuzzBase}}
	f.Fuzz(func(t *testing.T, method, target string) {
		r, err := http.NewRequest(method, fuzzBase+"o/"+target, nil)
		if err != nil {
			return
		}
		key := strings.TrimPrefix(r.URL.Path, "/v1/files/o/")
		if filestore.ValidateKey(key) != nil || h.verify(r, key) != nil {
			return
		}
		accepted := func(method, key string, change func(url.Values)) bool {
			q := r.URL.Query()
			change(q)
			r2 := r.Clone(context.Background())
			r2.Method, r2.URL.RawQuery = method, q.Encode()
			return h.verify(r2, key) == nil
		}
		same := func(url.Values) {}
		other := http.MethodPut
		if r.Method == http.MethodPut {
			other = http.MethodGet
		}
		for what, ok := range map[string]bool{
			"key":    accepted(r.Method, key+"x", same),
			"method": accepted(other, key, same),
			"upload": accepted(r.Method, key, func(q url.Values) { q.Set("uploadId", q.Get("uploadId")+"x") }),
			"part":   accepted(r.Method, key, func(q url.Values) { q.Set("partNumber", q.Get("partNumber")+"1") }),
			"expiry": accepted(r.Method, key, func(q url.Values) {
				exp, _ := strconv.ParseInt(q.Get(paramSigExpires), 10, 64)
				q.Set(paramSigExpires, strconv.FormatInt(exp+1, 10))
			}),
		} {
			if ok {
				t.Fatalf("%s %s accepted, and still accepted with its %s changed", method, target, what)
			}
		}
	})
}

// TestWriteFuzzSeeds writes URLs that Presign made, as clients receive
// them, and the Range headers clients send (see internal/fuzzseed).
func TestWriteFuzzSeeds(t *testing.T) {
	fuzzseed.Enabled(t)
	h := &Handler{opts: Options{SigningKey: fuzzSigningKey, BaseURL: fuzzBase}}
	long := 50 * 365 * 24 * time.Hour // valid until the seeds are long forgotten
	for name, req := range map[string]filestore.PresignRequest{
		"get":     {Method: filestore.PresignGet, Key: "studies/1.2.826.0.1.3680043.8.498.1/ct-0001.dcm", TTL: long},
		"part":    {Method: filestore.PresignPart, Key: "uploads/clinic-7/report.pdf", UploadID: "b3f1c2d4-upload", PartNumber: 3, TTL: long},
		"expired": {Method: filestore.PresignGet, Key: "studies/x.dcm", TTL: -time.Hour},
	} {
		u, err := h.Presign(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		method := http.MethodGet
		if req.Method == filestore.PresignPart {
			method = http.MethodPut
		}
		fuzzseed.Write(t, "FuzzVerify", name, method, strings.TrimPrefix(u, fuzzBase+"o/"))
	}
	fuzzseed.Write(t, "FuzzVerify", "head", http.MethodHead, "studies/a.dcm?mr-expires=99&mr-signature=ab")
	for name, v := range map[string]string{"resume": "bytes=1048576-", "whole": "bytes=0-", "suffix": "bytes=-500", "span": "bytes=0-99"} {
		fuzzseed.Write(t, "FuzzParseRange", name, v)
	}
}
