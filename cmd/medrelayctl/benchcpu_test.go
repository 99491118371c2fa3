package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParseCPUFindsTheProcessCounter(t *testing.T) {
	text := "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" +
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.34\nprocess_cpu_seconds_totalx 99\n"
	v, err := parseCPU(strings.NewReader(text))
	if err != nil || v != 12.34 {
		t.Fatalf("parseCPU = %v, %v; want 12.34", v, err)
	}
	if _, err := parseCPU(strings.NewReader("medrelay_commits_total 3\n")); err == nil || !strings.Contains(err.Error(), "process_cpu_seconds_total") {
		t.Fatalf("a relay without the counter: err %v, want one naming it", err)
	}
}

func TestBenchRelaysDefaultsToTheTwoItSendsThrough(t *testing.T) {
	if got := benchRelays("", "http://a:1/", "http://a:1"); !slices.Equal(got, []string{"http://a:1"}) {
		t.Errorf("one relay for both ends: %v", got)
	}
	got := benchRelays("http://a:1, http://m:2,http://b:3,", "http://a:1", "http://b:3")
	if !slices.Equal(got, []string{"http://a:1", "http://m:2", "http://b:3"}) {
		t.Errorf("--relays: %v", got)
	}
}

func TestPrintCPUPerEnvelope(t *testing.T) {
	var buf bytes.Buffer
	printCPU(&buf, []string{"http://a", "http://m"}, cpuSample{relays: []float64{1, 10}, self: 0.5}, cpuSample{relays: []float64{2, 10.5}, self: 1}, 10000)
	want := "cpu:       150.0 µs/envelope over 2 relays (http://a 100.0, http://m 50.0), bench 50.0 µs/envelope\n"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
}
