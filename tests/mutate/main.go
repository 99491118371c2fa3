// Command mutate checks that the tests catch what they claim to: it
// applies each mutation of the list in mutations.go (a line of the product
// broken on purpose) to a temporary copy of the repository, runs the tests
// named for it, and reports whether they failed (caught) or passed
// (MISSED).
//
//	go run ./tests/mutate            # all mutations (make mutate)
//	go run ./tests/mutate -run fsync # those whose name matches
//
// It prints one line per mutation and, last, "mutations caught: N/M"; it
// exits 1 unless every mutation is caught. First it runs every named test
// on the unchanged copy: a test that fails there would make every
// mutation look caught, so mutate stops instead. Tools the tests need are
// required (MEDRELAY_REQUIRE_TOOLS=1): a test skipped for a missing tool
// would make a mutation look missed.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

func main() {
	// Interrupted, the tests in flight are killed and the copy removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if err != errMissed {
			fmt.Fprintln(os.Stderr, "mutate:", err)
		}
		os.Exit(1)
	}
}

// errMissed is run's error when a mutation was not caught.
var errMissed = errors.New("not every mutation was caught")

func run(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("mutate", flag.ContinueOnError)
	only := fl.String("run", "", "run only the mutations whose name matches this regular expression")
	verbose := fl.Bool("v", false, "print the output of the tests of each missed mutation")
	keep := fl.Bool("keep", false, "keep the temporary copy (its path is printed)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	re, err := regexp.Compile(*only)
	if err != nil {
		return fmt.Errorf("-run: %w", err)
	}
	var list []mutation
	for _, m := range mutations {
		if re.MatchString(m.Name) {
			list = append(list, m)
		}
	}
	if len(list) == 0 {
		return fmt.Errorf("no mutation matches -run %q", *only)
	}
	root, err := gitOutput("", "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "medrelay-mutate-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintln(out, "copy:", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if err := copyRepo(strings.TrimSpace(root), tmp); err != nil {
		return err
	}
	r := &runner{ctx: ctx, dir: tmp}
	if err := r.baseline(list); err != nil {
		return err
	}
	caught := 0
	for _, m := range list {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		res, log := r.try(m)
		if res == "caught" {
			caught++
		}
		fmt.Fprintf(out, "%-7s %s (%s)\n", res, m.Name, time.Since(start).Round(time.Second))
		if res != "caught" && *verbose {
			fmt.Fprintln(out, indent(log))
		}
	}
	fmt.Fprintf(out, "mutations caught: %d/%d\n", caught, len(list))
	if caught != len(list) {
		return errMissed
	}
	return nil
}

// runner applies mutations to the copy in dir and runs tests there.
type runner struct {
	ctx context.Context
	dir string
}

// baseline runs every test command once on the unchanged copy.
func (r *runner) baseline(list []mutation) error {
	done := map[string]bool{}
	for _, m := range list {
		for _, t := range m.Tests {
			if done[t] {
				continue
			}
			done[t] = true
			if ok, log := r.test(t); !ok {
				if r.ctx.Err() != nil {
					return r.ctx.Err()
				}
				return fmt.Errorf("the tests fail without any mutation, so no result would mean anything:\ngo test %s\n%s", t, indent(log))
			}
		}
	}
	return nil
}

// try applies m, runs its tests until one fails, and restores the files.
// It returns "caught", "MISSED", or "STALE" when the mutation no longer
// applies or does not compile (the list needs fixing).
func (r *runner) try(m mutation) (result, log string) {
	saved := map[string][]byte{}
	defer func() {
		for f, b := range saved {
			os.WriteFile(filepath.Join(r.dir, f), b, 0o644)
		}
	}()
	for _, e := range m.Edits {
		p := filepath.Join(r.dir, e.File)
		b, err := os.ReadFile(p)
		if err != nil {
			return "STALE", err.Error()
		}
		if _, ok := saved[e.File]; !ok {
			saved[e.File] = b
		}
		nb, err := e.apply(b)
		if err != nil {
			return "STALE", fmt.Sprintf("%s: %v", e.File, err)
		}
		if err := os.WriteFile(p, nb, 0o644); err != nil {
			return "STALE", err.Error()
		}
	}
	for f := range saved {
		if out, err := r.command("go", "vet", "./"+filepath.Dir(f)); err != nil {
			return "STALE", "does not compile:\n" + out
		}
	}
	for _, t := range m.Tests {
		if ok, log := r.test(t); !ok {
			return "caught", log
		}
	}
	return "MISSED", "every test passed"
}

// test runs `go test -count=1 <args>` and reports whether it passed.
func (r *runner) test(args string) (bool, string) {
	out, err := r.command("go", append([]string{"test", "-count=1", "-timeout", "10m"}, strings.Fields(args)...)...)
	return err == nil, out
}

func (r *runner) command(name string, args ...string) (string, error) {
	cmd := exec.CommandContext(r.ctx, name, args...)
	cmd.Dir = r.dir
	// Its own process group, so that an interrupt also ends the test
	// binaries go test started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "MEDRELAY_REQUIRE_TOOLS=1")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// apply replaces From, which must occur exactly once in b, with To.
func (e edit) apply(b []byte) ([]byte, error) {
	switch n := strings.Count(string(b), e.From); n {
	case 0:
		return nil, fmt.Errorf("%q is not in the file (moved or changed? update tests/mutate/mutations.go)", e.From)
	case 1:
		return []byte(strings.Replace(string(b), e.From, e.To, 1)), nil
	default:
		return nil, fmt.Errorf("%q is in the file %d times, want once (quote more of its line)", e.From, n)
	}
}

// copyRepo copies the files git knows of (tracked, or new and not
// ignored), as they are in the working tree, from root to dst.
func copyRepo(root, dst string) error {
	list, err := gitOutput(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	for _, f := range strings.Split(strings.TrimRight(list, "\x00"), "\x00") {
		src := filepath.Join(root, f)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or a link
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		p := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
