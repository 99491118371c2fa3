package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMetric is the standard process collector's counter that bench reads
// from each relay's /metrics before and after a run.
const cpuMetric = "process_cpu_seconds_total"

// relayCPU reads a relay's process CPU seconds from its /metrics.
func relayCPU(ctx context.Context, cf *connFlags, base string) (float64, error) {
	body, err := get(ctx, cf, base, "/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("read %s/metrics: %w", base, err)
	}
	defer body.Close()
	v, err := parseCPU(body)
	if err != nil {
		return 0, fmt.Errorf("%s/metrics: %w", base, err)
	}
	return v, nil
}

// parseCPU finds process_cpu_seconds_total in Prometheus text.
func parseCPU(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || name != cpuMetric {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q is not a number", cpuMetric, value)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/metrics has no %s: the relay is older than this medrelayctl, or not a medrelay", cpuMetric)
}

// cpuSample is the CPU seconds of each relay read, and of this process.
type cpuSample struct {
	relays []float64
	self   float64
}

// sampleCPU reads every relay's CPU seconds and this process's own.
func sampleCPU(ctx context.Context, cf *connFlags, relays []string) (cpuSample, error) {
	s := cpuSample{relays: make([]float64, len(relays))}
	for i, u := range relays {
		v, err := relayCPU(ctx, cf, u)
		if err != nil {
			return s, err
		}
		s.relays[i] = v
	}
	s.self = selfCPU()
	return s, nil
}

// selfCPU returns the CPU seconds this process has used, user and system.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) time.Duration {
		return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
	}
	return (tv(ru.Utime) + tv(ru.Stime)).Seconds()
}

// printCPU writes µs of CPU per envelope for each relay, their total, and
// the bench process.
func printCPU(w io.Writer, relays []string, before, after cpuSample, n int) {
	per := func(d float64) float64 { return d / float64(n) * 1e6 }
	var total float64
	parts := make([]string, len(relays))
	for i, u := range relays {
		d := after.relays[i] - before.relays[i]
		total += d
		parts[i] = fmt.Sprintf("%s %.1f", u, per(d))
	}
	fmt.Fprintf(w, "cpu:       %.1f µs/envelope over %d relays (%s), bench %.1f µs/envelope\n",
		per(total), len(relays), strings.Join(parts, ", "), per(after.self-before.self))
}

// benchRelays is the relays whose CPU bench reads: --relays when given,
// else the relays it sends through.
func benchRelays(list, from, to string) []string {
	var out []string
	add := func(u string) {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		for _, have := range out {
			if have == u {
				return
			}
		}
		if u != "" {
			out = append(out, u)
		}
	}
	if list != "" {
		for u := range strings.SplitSeq(list, ",") {
			add(u)
		}
		return out
	}
	add(from)
	add(to)
	return out
}
