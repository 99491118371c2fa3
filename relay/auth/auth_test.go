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
	tokA, err := Add(path, "clinic-1")
	if err != nil {
		t.Fatal(err)
	}
	tokB, err := Add(path, "county-a")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), tokA) || strings.Contains(string(data), tokB) {
		t.Fatal("the credentials file holds a token, want only hashes")
	}
	c, err := Open(path)
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
			if got := c.Check(tt.id, tt.token); !errors.Is(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	// Replacing a credential invalidates the old token.
	tokA2, _ := Add(path, "clinic-1")
	c2, _ := Open(path)
	if c2.Check("clinic-1", tokA) == nil || c2.Check("clinic-1", tokA2) != nil {
		t.Fatal("replaced credential: old token still valid or new one refused")
	}
}
