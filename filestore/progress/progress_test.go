package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	b := New(&buf, Options{Label: "scan.zip", Now: c.now})
	c.t = c.t.Add(time.Second)
	b.Update(10<<20, 100<<20) // first update draws
	c.t = c.t.Add(500 * time.Millisecond)
	b.Update(15<<20, 100<<20) // within the interval: no line
	c.t = c.t.Add(2 * time.Second)
	b.Update(50<<20, 100<<20)
	b.Finish()
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"scan.zip 10.0 MiB / 100.0 MiB (10%) 10.0 MiB/s ETA 9s",
		"scan.zip 50.0 MiB / 100.0 MiB (50%) 14.3 MiB/s ETA 4s",
		"scan.zip 50.0 MiB / 100.0 MiB (50%) 14.3 MiB/s ETA 4s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTerminalBar(t *testing.T) {
	var buf bytes.Buffer
	yes := true
	b := New(&buf, Options{Label: "scan.zip", Terminal: &yes, Width: 10})
	b.Update(5<<20, 10<<20)
	b.Update(10<<20, 10<<20)
	b.Finish()
	got := buf.String()
	if !strings.Contains(got, "\r") || !strings.Contains(got, "scan.zip") || !strings.Contains(got, "100%") || !strings.Contains(got, "10 MiB") || !strings.HasSuffix(got, "\n") {
		t.Errorf("got %q", got)
	}
}

func TestTerminalBarStopsWhereTheTransferStopped(t *testing.T) {
	var buf bytes.Buffer
	yes := true
	b := New(&buf, Options{Terminal: &yes, Width: 10})
	b.Update(3<<20, 10<<20)
	b.Finish()
	if got := buf.String(); !strings.Contains(got, "30%") || strings.Contains(got, "100%") || !strings.HasSuffix(got, "\n") {
		t.Errorf("a transfer stopped at 30%% shows %q", got)
	}
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
