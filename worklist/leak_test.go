package worklist

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them
// (notification channels, relay delivery, the sweeper).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
