package s3_test

import (
	"net"
	"testing"
)

// unusedAddr returns a loopback address where nothing listens.
func unusedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
