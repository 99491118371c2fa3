package hello

import (
	"testing"
	"time"
)

func TestBackoffDoublesJittersCapsAndResets(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 800 * time.Millisecond}
	for i, base := range []time.Duration{100, 200, 400, 800, 800, 800} {
		base *= time.Millisecond
		if d := b.Next(); d < base/2 || d >= base*3/2 {
			t.Errorf("wait %d = %v, want within [%v, %v)", i, d, base/2, base*3/2)
		}
	}
	b.Reset()
	if d := b.Next(); d >= 150*time.Millisecond {
		t.Errorf("after Reset: %v, want about Min", d)
	}
}
