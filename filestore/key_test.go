package filestore_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/medrelay/medrelay/filestore"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"studies/1.2.840.113619/series-1/img_0001.dcm", true},
		{"env-01J9/scan.zip", true},
		{"", false},
		{"..", false},
		{"a/../b", false},
		{"../a", false},
		{"a/..", false},
		{"./a", false},
		{"/etc/passwd", false},
		{"a/", false},
		{"a//b", false},
		{`a\b`, false},
		{"a b", false},
		{"a\x00b", false},
		{"a%2Fb", false},
		{"é", false},
		{strings.Repeat("a", filestore.MaxKeyLen), true},
		{strings.Repeat("a", filestore.MaxKeyLen+1), false},
	}
	for _, tt := range tests {
		err := filestore.ValidateKey(tt.key)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, filestore.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", tt.key, err)
		}
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/a", "a//b", "studies/1.2.3/x.dcm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if filestore.ValidateKey(key) != nil {
			return
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
		if strings.ContainsAny(key, "\\\x00 ") || strings.HasPrefix(key, "/") {
			t.Fatalf("accepted %q", key)
		}
	})
}

func TestHashReader(t *testing.T) {
	const data = "hello"
	const sum = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	tests := []struct {
		name string
		want string
		size int64
		err  error
	}{
		{"no check", "", 0, nil},
		{"right sum", sum, 5, nil},
		{"wrong sum", strings.Repeat("0", 64), 0, filestore.ErrChecksumMismatch},
		{"short", "", 6, filestore.ErrSizeMismatch},
		{"long", "", 4, filestore.ErrSizeMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr := filestore.NewHashReader(strings.NewReader(data), "f.dcm", tt.want, tt.size)
			_, err := io.ReadAll(hr)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("ReadAll: %v, want %v", err, tt.err)
			}
			if err != nil && !strings.Contains(err.Error(), "f.dcm") {
				t.Errorf("error %q does not name the file", err)
			}
			if tt.err == nil && hr.Sum() != sum {
				t.Errorf("Sum = %s, want %s", hr.Sum(), sum)
			}
		})
	}
}
