package client_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them:
// every component ends its goroutines on Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
