package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/medrelay/medrelay/relay"
	"github.com/medrelay/medrelay/relay/config"
)

// checkFiles checks the storage of the filestore section for real: the
// endpoint answers, the credentials are accepted and the bucket exists
// (s3), or the directory is usable (local). Errors name the setting.
func checkFiles(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	fc := cfg.FileStore
	switch {
	case fc == nil && cfg.Parent != nil:
		fmt.Fprintf(stdout, "ok: files: no filestore section, uses its parent's (%s)\n", cfg.Parent.URL)
		return nil
	case fc == nil:
		fmt.Fprintf(stdout, "ok: files: no filestore section, a local store in %s/files\n", cfg.DataDir)
		return nil
	case fc.Kind == config.FileStoreLocal:
		if fi, err := os.Stat(fc.Dir); err == nil && !fi.IsDir() {
			return fmt.Errorf("filestore.dir %q is not a directory", fc.Dir)
		} else if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("filestore.dir %q: %w", fc.Dir, err)
		}
		fmt.Fprintf(stdout, "ok: files: local store in %s, %s mode\n", fc.Dir, fc.Mode)
		return nil
	}
	if _, err := relay.OpenFileStore(ctx, fc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok: files: s3 bucket %q on %s reachable with the configured credentials, %s mode\n", fc.Bucket, fc.Endpoint, fc.Mode)
	return nil
}
