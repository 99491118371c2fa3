package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/medrelay/medrelay/proto/medrelay/v1"
)

func batchFrame(n int) *pb.Frame {
	b := &pb.Batch{Seq: 7}
	for i := 0; i < n; i++ {
		b.Envelopes = append(b.Envelopes, bytes.Repeat([]byte{byte(i)}, 100))
	}
	return &pb.Frame{Msg: &pb.Frame_Batch{Batch: b}}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 0)
	frames := []*pb.Frame{
		{Msg: &pb.Frame_Hello{Hello: &pb.Hello{RelayId: "county-a", Subtree: []string{"county-a", "township-a1"}}}},
		batchFrame(3),
		{Msg: &pb.Frame_Ack{Ack: &pb.Ack{Seq: 7}}},
		{Msg: &pb.Frame_Heartbeat{Heartbeat: &pb.Heartbeat{}}},
	}
	for _, f := range frames {
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, 0)
	for i, want := range frames {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("frame %d: got %v, want %v", i, got, want)
		}
	}
	if _, err := r.Read(); !errors.Is(err, io.EOF) {
		t.Errorf("after last frame: got %v, want EOF", err)
	}
}

func TestOversizedFrameRefusedBeforeAllocating(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 1<<31)
	r := NewReader(bytes.NewReader(hdr[:]), MinMaxFrame)
	if _, err := r.Read(); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("got %v, want ErrFrameTooLarge", err)
	}
	if r.buf != nil {
		t.Errorf("reader allocated a %d-byte buffer for a refused frame", cap(r.buf))
	}
}

func TestWriterRefusesOversizedFrame(t *testing.T) {
	w := NewWriter(io.Discard, MinMaxFrame)
	if err := w.Write(batchFrame(1000)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("got %v, want ErrFrameTooLarge", err)
	}
}

func TestMalformedFrames(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"zero length", []byte{0, 0, 0, 0}},
		{"truncated body", []byte{0, 0, 0, 10, 1, 2}},
		{"garbage body", []byte{0, 0, 0, 3, 0xff, 0xff, 0xff}},
		{"no message set", []byte{0, 0, 0, 2, 0x78, 0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f, err := NewReader(bytes.NewReader(tt.in), 0).Read(); err == nil {
				t.Errorf("got frame %v, want an error", f)
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 0)
	w.Write(batchFrame(2))
	w.Write(&pb.Frame{Msg: &pb.Frame_Hello{Hello: &pb.Hello{ClientId: "clinic-12", Receive: true}}})
	w.Flush()
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), MinMaxFrame)
		for {
			fr, err := r.Read()
			if err != nil {
				return
			}
			if fr.Msg == nil {
				t.Fatal("decoded a frame with no message")
			}
		}
	})
}
