package tests

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medrelay/medrelay/internal/testenv"
)

// chaosDiskRelay is the relay whose data_dir is on its own small tmpfs,
// so that the disk-full fault can fill it.
const chaosDiskRelay = "county-b"

// chaosDiskSize holds what a few rounds write to county-b (envelopes,
// files up to 256 KiB, bbolt's growth) plus the intake journal's two
// preallocated 8 MiB segments.
const chaosDiskSize = "128m"

// chaosDisk is a tmpfs mounted on a relay's data_dir.
type chaosDisk struct {
	dir string
}

// mountChaosDisk mounts a tmpfs of chaosDiskSize on dir (created) and
// unmounts it in t.Cleanup, registered before the relay's so that it runs
// after the relay is killed. It returns nil, with the reason logged, when
// mounting fails; under MEDRELAY_REQUIRE_TOOLS=1 the test fails instead.
func mountChaosDisk(t *testing.T, dir string) *chaosDisk {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+chaosDiskSize, "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("MISSING: mount -t tmpfs on %s's data_dir: %v (%s); the disk-full fault needs root and tmpfs",
			chaosDiskRelay, err, bytes.TrimSpace(out))
		if testenv.Strict() {
			t.Fatalf("%s; %s=1 requires it", msg, testenv.EnvVar)
		}
		t.Log(msg + "; the chaos runs without the disk-full fault")
		return nil
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v (%s); unmounting lazily", dir, err, bytes.TrimSpace(out))
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return &chaosDisk{dir: dir}
}

// fill writes a filler file until the filesystem answers ENOSPC and
// returns the filler's path and size.
func (d *chaosDisk) fill() (string, int64, error) {
	path := filepath.Join(d.dir, "chaos-filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return path, 0, err
	}
	defer f.Close()
	var n int64
	for _, chunk := range []int{1 << 20, 4 << 10} {
		buf := make([]byte, chunk)
		for {
			w, err := f.Write(buf)
			n += int64(w)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				return path, n, err
			}
		}
	}
	return path, n, nil
}

// diskFull fills the relay's tmpfs, keeps it full for d while the load
// goes on, removes the filler and waits until the relay, which must have
// kept running, is ready again by itself.
func (cn *chaosNet) diskFull(r int, d time.Duration) {
	t := cn.t
	p := cn.relays[chaosDiskRelay]
	path, n, err := cn.disk.fill()
	if err != nil {
		os.Remove(path)
		t.Errorf("round %d: fill %s's disk: %v", r, chaosDiskRelay, err)
		return
	}
	t.Logf("round %d: %s's disk full (filler %d MiB) for %v", r, chaosDiskRelay, n>>20, d)
	before := strings.Count(p.Log(), "no space left on device")
	time.Sleep(d)
	// Whether the disk is still full at the end (the relay may free
	// space, by deleting delivered files) and whether the relay noticed:
	// its store and journal are preallocated, so a short spell may not
	// touch them.
	probe := filepath.Join(cn.disk.dir, "chaos-probe")
	perr := os.WriteFile(probe, make([]byte, 8<<10), 0o644)
	os.Remove(probe)
	t.Logf("round %d: %s's disk still full at the end: %v; %s logged %d \"no space left on device\" meanwhile",
		r, chaosDiskRelay, errors.Is(perr, syscall.ENOSPC), chaosDiskRelay, strings.Count(p.Log(), "no space left on device")-before)
	if err := os.Remove(path); err != nil {
		t.Errorf("round %d: remove the filler of %s's disk: %v", r, chaosDiskRelay, err)
	}
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	select {
	case <-exited:
		logs, _ := os.ReadFile(p.logPath)
		t.Fatalf("round %d: %s exited while its disk was full:\n%s", r, chaosDiskRelay, tail(string(logs), 30))
	default:
	}
	waitFor(t, chaosDiskRelay+" ready again after its disk was full", func() bool {
		resp, err := p.client().Get(p.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
