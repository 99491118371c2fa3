package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/medrelay/medrelay/link/tlsconf"

	client "github.com/medrelay/medrelay/client-sdk"
	"github.com/medrelay/medrelay/filestore"
	"github.com/medrelay/medrelay/filestore/filehttp"
	"github.com/medrelay/medrelay/filestore/progress"
)

// fileFlags are the flags of send that attach files.
type fileFlags struct {
	files    pathsFlag
	stateDir string
	partSize int64
	proxy    bool
	asJSON   bool
}

type pathsFlag []string

func (p *pathsFlag) String() string     { return strings.Join(*p, ",") }
func (p *pathsFlag) Set(s string) error { *p = append(*p, s); return nil }

func addFileFlags(fs *flag.FlagSet) *fileFlags {
	ff := &fileFlags{}
	fs.Var(&ff.files, "file", "upload this file and attach it (repeatable)")
	fs.StringVar(&ff.stateDir, "state-dir", "", "where upload progress is kept so a new run resumes (default: the user cache dir)")
	fs.Int64Var(&ff.partSize, "part-size", 0, "upload part size in bytes (default 16 MiB, at least 5 MiB)")
	fs.BoolVar(&ff.proxy, "proxy", false, "stream files through the relay even when it offers direct uploads")
	fs.BoolVar(&ff.asJSON, "json", false, "print a JSON summary (id and, per file, reference and parts sent/skipped) instead of the id")
	return ff
}

// timeout is --timeout, or no limit for a send with files when it was
// not given: large files take as long as they take.
func (ff *fileFlags) timeout(fs *flag.FlagSet, d time.Duration) time.Duration {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "timeout" })
	if len(ff.files) > 0 && !set {
		return 100 * 365 * 24 * time.Hour
	}
	return d
}

// dir is --state-dir or the default for client id.
func (ff *fileFlags) dir(id string) string {
	if len(ff.files) == 0 {
		return ""
	}
	if ff.stateDir != "" {
		return ff.stateDir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "medrelayctl", "uploads", id)
}

// fileSummary is one file in send --json.
type fileSummary struct {
	Name         string `json:"name"`
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	PartsSent    int    `json:"parts_sent"`
	PartsSkipped int    `json:"parts_skipped"`
	Resumed      bool   `json:"resumed"`
}

// sendFiles uploads the files, sends the envelope and prints the result.
func sendFiles(ctx context.Context, c *client.Client, ff *fileFlags, to, command string, args map[string]string, body []byte, opts []client.SendOption, stdout, stderr io.Writer) error {
	atts := make([]client.Attachment, len(ff.files))
	var bars []*progress.Bar
	for i, p := range ff.files {
		bar := progress.New(stderr, progress.Options{Label: "upload " + filepath.Base(p)})
		bars = append(bars, bar)
		atts[i] = client.Attachment{Path: p, Progress: bar.Update}
	}
	res, err := c.SendFiles(ctx, to, command, args, body, atts, client.TransferOptions{PartSize: ff.partSize, Proxy: ff.proxy}, opts...)
	for _, b := range bars {
		b.Finish()
	}
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	sum := struct {
		ID    string        `json:"id"`
		Files []fileSummary `json:"files"`
	}{ID: res.ID}
	for _, f := range res.Files {
		sum.Files = append(sum.Files, fileSummary{Name: f.Ref.Name, Key: f.Ref.Key, Size: f.Ref.Size, SHA256: f.Ref.Sha256,
			PartsSent: f.PartsSent, PartsSkipped: f.PartsSkipped, Resumed: f.Resumed})
		fmt.Fprintf(stderr, "sent %s: %s sha256 %s, %d parts sent, %d already uploaded\n",
			f.Ref.Name, progress.Bytes(f.Ref.Size), f.Ref.Sha256, f.PartsSent, f.PartsSkipped)
	}
	if ff.asJSON {
		return json.NewEncoder(stdout).Encode(sum)
	}
	fmt.Fprintln(stdout, res.ID)
	return nil
}

// saveFiles downloads every file of e into dir and verifies it. The
// first failure is returned, naming the file.
func saveFiles(ctx context.Context, c *client.Client, e *client.Envelope, dir string, stderr io.Writer) error {
	if dir == "" || len(e.Files) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("--save-dir: %w", err)
	}
	for _, ref := range e.Files {
		if strings.HasSuffix(ref.GetKey(), "/") {
			fmt.Fprintf(stderr, "envelope %s: %s is a prefix: it lets this client read the files under it, which the envelope names otherwise\n", e.Id, ref.GetKey())
			continue
		}
		name := client.FileName(ref)
		path := filepath.Join(dir, name)
		bar := progress.New(stderr, progress.Options{Label: "download " + name})
		_, err := c.Download(ctx, ref, path, bar.Update, client.TransferOptions{})
		bar.Finish()
		if err != nil {
			return fmt.Errorf("envelope %s: %w", e.Id, err)
		}
		fmt.Fprintf(stderr, "saved %s: %s sha256 %s verified\n", path, progress.Bytes(ref.Size), ref.Sha256)
	}
	return nil
}

// runFiles runs "medrelayctl files gc|ls".
func runFiles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "gc" && args[0] != "ls") {
		return fmt.Errorf("%w: files needs a subcommand: gc --relay URL --older-than 30d, or ls --relay URL", errUsage)
	}
	fs := newFlags("files "+args[0], stderr)
	relayURL := fs.String("relay", "", "the URL of the relay that holds the files")
	prefix := fs.String("prefix", "", "only keys starting with this")
	asJSON := fs.Bool("json", false, "print JSON")
	var older *string
	var dryRun *bool
	if args[0] == "gc" {
		older = fs.String("older-than", "", "also remove objects older than this, like 30d or 12h (default: only expired ones)")
		dryRun = fs.Bool("dry-run", false, "count what would be removed, remove nothing")
	}
	cf := addAuthFlags(fs)
	if err := parse(fs, args[1:], "relay"); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if err := tlsconf.CheckToken(*relayURL, cf.token, cf.allowPlaintext); err != nil {
		return fmt.Errorf("%w: %v (--allow-plaintext)", errUsage, err)
	}
	hc, err := tlsconf.FilesClient(*relayURL, tlsconf.ClientOptions{CAFile: cf.caFile})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	fc, err := filehttp.NewClient(filehttp.ClientOptions{BaseURL: strings.TrimSuffix(*relayURL, "/") + "/v1/files/", HTTPClient: hc, Authorize: cf.authorize})
	if err != nil {
		return fmt.Errorf("%w: --relay: %v", errUsage, err)
	}
	if args[0] == "ls" {
		return listFiles(ctx, fc, *prefix, *asJSON, stdout)
	}
	d, err := parseAge(*older)
	if err != nil {
		return err
	}
	res, err := fc.GC(ctx, filehttp.GCRequest{OlderThanSeconds: int64(d.Seconds()), Prefix: *prefix, DryRun: *dryRun})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(stdout, "scanned %d objects, %s %d (%s), kept %d whose envelope may still be queued\n",
		res.Scanned, verb, res.Removed, progress.Bytes(res.RemovedBytes), res.Kept)
	return nil
}

func listFiles(ctx context.Context, fc *filehttp.Client, prefix string, asJSON bool, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	return fc.List(ctx, prefix, func(in filestore.Info) error {
		if asJSON {
			return enc.Encode(in)
		}
		_, err := fmt.Fprintf(stdout, "%s\t%d\t%s\t%s\texpires %s\n", in.Key, in.Size, in.SHA256, in.EnvelopeID, in.Expires.Format(time.RFC3339))
		return err
	})
}

// parseAge accepts Go durations and a d suffix for days (30d, 1.5d).
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err == nil && n >= 0 {
			return time.Duration(n * float64(24*time.Hour)), nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%w: --older-than %q is invalid: use days like 30d, or a duration like 12h", errUsage, s)
}
