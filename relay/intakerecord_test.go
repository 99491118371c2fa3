package relay

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

func TestIntakeRecordRoundTrip(t *testing.T) {
	now := time.Unix(0, 1_800_000_000_123_456_789)
	raws := [][]byte{[]byte("first"), {}, bytes.Repeat([]byte{7}, 300)}
	b := encodeIntake("clinic-12", now, raws)
	client, at, got, err := decodeIntake(b)
	if err != nil || client != "clinic-12" || !at.Equal(now) || len(got) != 3 ||
		!bytes.Equal(got[0], raws[0]) || len(got[1]) != 0 || !bytes.Equal(got[2], raws[2]) {
		t.Fatalf("decode = %q %v %q %v", client, at, got, err)
	}
	for n := range len(b) {
		if _, _, _, err := decodeIntake(b[:n]); err == nil {
			t.Fatalf("record cut to %d of %d bytes decoded without error", n, len(b))
		}
	}
}

// Any bytes decode to an error or to a record that encodes back to the
// same bytes; nothing panics or reads past the end.
func FuzzDecodeIntake(f *testing.F) {
	f.Add(encodeIntake("clinic-12", time.Unix(0, 1_800_000_000_123_456_789), [][]byte{[]byte("first"), {}, bytes.Repeat([]byte{7}, 300)}))
	f.Add(encodeIntake("", time.Unix(0, 0), nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		client, now, raws, err := decodeIntake(b)
		if err != nil {
			return
		}
		again := encodeIntake(client, now, raws)
		c2, n2, r2, err := decodeIntake(again)
		if err != nil || c2 != client || !n2.Equal(now) || !slices.EqualFunc(r2, raws, bytes.Equal) {
			t.Fatalf("re-encoded record decodes differently: %q %v %q %v", c2, n2, r2, err)
		}
	})
}
