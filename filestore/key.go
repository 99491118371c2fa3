package filestore

import (
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key accepted, in bytes.
const MaxKeyLen = 512

// ValidateKey refuses keys that could point outside a store or that some
// backend could not hold: empty, longer than MaxKeyLen, starting or ending
// with '/', with empty, "." or ".." segments, or with characters other than
// ASCII letters, digits, '.', '_', '-' and '/'. The error wraps
// ErrInvalidKey and says why.
func ValidateKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return fmt.Errorf("key %q: %s: %w", key, reason, ErrInvalidKey)
	}
	return nil
}

func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case strings.HasPrefix(key, "/"):
		return "absolute path"
	case strings.HasSuffix(key, "/"):
		return "ends with '/'"
	}
	for i := 0; i < len(key); i++ {
		if !keyChar(key[i]) {
			return fmt.Sprintf("character %q at %d not allowed (use A-Z a-z 0-9 . _ - /)", key[i], i)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return "empty path segment"
		case ".", "..":
			return "path segment " + seg + " points outside the store"
		}
	}
	return ""
}

func keyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/'
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidSHA256 reports whether s is a hex SHA-256 in lower case.
func ValidSHA256(s string) bool { return validSHA256(s) }
