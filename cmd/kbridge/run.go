package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/kbridge/kbridge/bridge/daemon"
)

func init() {
	commands["run"] = command{summary: "run the daemon: --config FILE (every key also from KBRIDGE_* variables)", run: runDaemon}
}

func runDaemon(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("KBRIDGE_CONFIG"), "YAML configuration file (env KBRIDGE_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, err := daemon.Load(*path, os.LookupEnv)
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, cfg.Log)
	if err != nil {
		return err
	}
	limit, err := daemon.SetMemoryLimit(os.LookupEnv, "/sys/fs/cgroup")
	if err != nil {
		return err
	}
	if limit.Bytes > 0 {
		logger.Info("soft memory limit", "bytes", limit.Bytes, "from", limit.Source)
	} else {
		logger.Warn("no memory limit (GOMEMLIMIT, KBRIDGE_MEMORY_LIMIT or a cgroup limit): no back pressure before the memory runs out")
	}
	d, err := daemon.New(cfg, logger)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

func newLogger(w io.Writer, cfg daemon.LogConfig) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(cfg.Level))); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}
