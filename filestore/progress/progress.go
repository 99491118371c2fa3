// Package progress renders transfer progress for people: on a terminal a
// bar redrawn in place with rate and ETA (github.com/schollz/progressbar),
// elsewhere (logs, pipes) plain lines at a steady interval. It writes only
// to the io.Writer it is given.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Options configures a Bar.
type Options struct {
	// Label starts every line, typically the file name. Default "".
	Label string
	// Terminal forces the bar (true) or plain lines (false). Default:
	// IsTerminal(w).
	Terminal *bool
	// Interval is the time between plain lines. Default 2s. The terminal
	// bar is redrawn at most every 100ms.
	Interval time.Duration
	// Width is the terminal bar's width in characters. Default 30.
	Width int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Bar renders one transfer. Update is safe for concurrent use and has the
// signature of transfer.ProgressFunc.
type Bar struct {
	w        io.Writer
	opts     Options
	term     bool
	pb       *progressbar.ProgressBar // the terminal bar, nil for plain lines
	mu       sync.Mutex
	start    time.Time
	last     time.Time
	done     int64
	total    int64
	finished bool
}

// IsTerminal reports whether w is a character device, such as a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// New returns a Bar writing to w.
func New(w io.Writer, opts Options) *Bar {
	if opts.Interval == 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Width == 0 {
		opts.Width = 30
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	term := IsTerminal(w)
	if opts.Terminal != nil {
		term = *opts.Terminal
	}
	b := &Bar{w: w, opts: opts, term: term, start: opts.Now()}
	if term {
		b.pb = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(opts.Label),
			progressbar.OptionSetWidth(opts.Width),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return b
}

// Update records progress and redraws when it is time.
func (b *Bar) Update(done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pb != nil {
		if total > 0 && total != b.total {
			b.pb.ChangeMax64(total)
		}
		b.done, b.total = done, total
		b.pb.Set64(done)
		return
	}
	b.done, b.total = done, total
	now := b.opts.Now()
	every := b.opts.Interval
	if b.term {
		every = 100 * time.Millisecond
	}
	if !b.last.IsZero() && now.Sub(b.last) < every {
		return
	}
	b.last = now
	b.draw(now)
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	if b.pb != nil {
		if b.total > 0 && b.done >= b.total {
			b.pb.Finish() // ends the line (OptionOnCompletion)
		} else {
			// The bar may not show the last update (it redraws at most
			// every 100ms): end its line and say where the transfer stopped.
			b.pb.Exit()
			b.draw(b.opts.Now())
		}
		return
	}
	b.draw(b.opts.Now())
}

func (b *Bar) draw(now time.Time) {
	line := Line(b.done, b.total, now.Sub(b.start))
	if b.opts.Label != "" {
		line = b.opts.Label + " " + line
	}
	fmt.Fprintln(b.w, line)
}

// Line formats "12.0 MiB / 100 MiB (12%) 4.0 MiB/s ETA 22s".
func Line(done, total int64, elapsed time.Duration) string {
	var s strings.Builder
	s.WriteString(Bytes(done))
	if total > 0 {
		fmt.Fprintf(&s, " / %s (%d%%)", Bytes(total), done*100/total)
	}
	if elapsed > 0 && done > 0 {
		rate := float64(done) / elapsed.Seconds()
		fmt.Fprintf(&s, " %s/s", Bytes(int64(rate)))
		if total > done {
			eta := time.Duration(float64(total-done) / rate * float64(time.Second))
			fmt.Fprintf(&s, " ETA %s", eta.Round(time.Second))
		}
	}
	return s.String()
}

// Bytes formats n in binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
