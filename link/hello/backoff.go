package hello

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces the attempts of a dialer that reconnects forever: waits
// double from Min up to Max, and each is jittered to between half and one
// and a half of its value, so that the clinics of a relay that restarts do
// not all knock at the same instant. The zero value waits 100ms to 5s.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.Min <= 0 {
		b.Min = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Second
	}
	if b.cur == 0 {
		b.cur = b.Min
	}
	d := time.Duration(float64(b.cur) * (0.5 + rand.Float64()))
	b.cur = min(2*b.cur, b.Max)
	return d
}

// Reset starts again from Min, after a success.
func (b *Backoff) Reset() { b.cur = 0 }
