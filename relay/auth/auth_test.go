package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddAndCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds.txt")
	tokA, err := Add(path, "clinic-1", RoleClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	tokB, err := Add(path, "county-a", RoleRelay, []string{"township-a1"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), tokA) || strings.Contains(string(data), tokB) {
		t.Fatal("the credentials file holds a token, want only hashes")
	}
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, id, token string
		want            error
	}{
		{"right token", "clinic-1", tokA, nil},
		{"other id's token", "clinic-1", tokB, ErrInvalid},
		{"unknown id", "clinic-9", tokA, ErrInvalid},
		{"missing", "clinic-1", "", ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := c.Check(tt.id, tt.token); !errors.Is(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	in, err := c.Check("county-a", tokB)
	if err != nil || in.Role != RoleRelay || !in.MayAnnounce("township-a1") || !in.MayAnnounce("county-a") || in.MayAnnounce("county-b") {
		t.Fatalf("county-a: %+v, %v; want role relay announcing county-a and township-a1 only", in, err)
	}
	if in, _ := c.Check("clinic-1", tokA); in.Role != RoleClient || in.MayAnnounce("clinic-1") {
		t.Fatalf("clinic-1: %+v, want a client that announces nothing", in)
	}
	if in, err := c.CheckToken(tokB); err != nil || in.ID != "county-a" {
		t.Fatalf("CheckToken: %+v, %v; want county-a", in, err)
	}
	if _, err := c.CheckToken("nope"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("CheckToken of an unknown token: %v, want ErrInvalid", err)
	}
	// Replacing a credential invalidates the old token.
	tokA2, _ := Add(path, "clinic-1", RoleClient, nil)
	c2, _ := Open(path, Options{})
	if _, err := c2.Check("clinic-1", tokA); err == nil {
		t.Fatal("replaced credential: old token still valid")
	}
	if _, err := c2.Check("clinic-1", tokA2); err != nil {
		t.Fatal("replaced credential: new token refused")
	}
}

// Lines written before roles are clients, unless the config names them
// as relays; Add keeps them as they are.
func TestLegacyLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds.txt")
	tok, hash := NewToken()
	if err := os.WriteFile(path, []byte("county-a "+hash+"\nclinic-1 "+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path, Options{Relays: map[string][]string{"county-a": {"township-a1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Legacy(); strings.Join(got, ",") != "clinic-1,county-a" {
		t.Fatalf("Legacy() = %v", got)
	}
	if in, _ := c.Check("county-a", tok); in.Role != RoleRelay || !in.MayAnnounce("township-a1") || !in.Legacy {
		t.Fatalf("county-a: %+v, want a legacy relay allowed township-a1", in)
	}
	if in, _ := c.Check("clinic-1", tok); in.Role != RoleClient {
		t.Fatalf("clinic-1: %+v, want a client", in)
	}
	if _, err := Add(path, "admin-1", RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "county-a "+hash+"\n") {
		t.Fatalf("Add rewrote a legacy line:\n%s", data)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"a", "want \"ID SHA256-HEX"},
		{"a xyz", "not 64 hex digits"},
		{"a - role=boss", "role \"boss\" of a is invalid"},
		{"a - subtree=b", "only role=relay"},
		{"a - colour=red", "is not a role=ROLE"},
	} {
		if _, err := Parse([]byte(tt.line)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tt.line, err, tt.want)
		}
	}
	if _, err := Add(filepath.Join(t.TempDir(), "c"), "x", RoleClient, []string{"y"}); err == nil {
		t.Error("Add with a subtree for a client: no error")
	}
}
