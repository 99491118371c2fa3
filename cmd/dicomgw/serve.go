package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/medrelay/medrelay/gateway"
	"github.com/medrelay/medrelay/gateway/config"
)

func runServe(ctx context.Context, args []string) error {
	cfg, err := configFlag("serve", args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("gateway", cfg.ID)
	g, err := gateway.New(cfg, log)
	if err != nil {
		return err
	}
	return g.Run(ctx)
}

func runCheckConfig(_ context.Context, args []string) error {
	if _, err := configFlag("check-config", args); err != nil {
		return err
	}
	fmt.Println("config ok")
	return nil
}

// configFlag parses --config FILE and loads it.
func configFlag(name string, args []string) (*config.Config, error) {
	fs := newFlagSet(name, "--config FILE")
	path := fs.String("config", "", "the gateway's YAML configuration (required)")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) > 0:
		return nil, usageErrorf("%s: unexpected argument %q (want --config FILE)", name, pos[0])
	case *path == "":
		return nil, usageErrorf("%s: missing --config (want --config FILE)", name)
	}
	return config.Load(*path)
}
