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
	"github.com/kbridge/kbridge/bridge/loglevel"
)

func init() {
	commands["run"] = command{summary: "run the daemon: --config FILE (every key also from KBRIDGE_* variables)", run: runDaemon}
}

func runDaemon(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("KBRIDGE_CONFIG"), "YAML configuration file (env KBRIDGE_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	cfg, err := daemon.Load(*path, os.LookupEnv)
	if err != nil {
		return err
	}
	logger, levels, err := newLogger(stderr, cfg.Log)
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
	d, err := daemon.New(cfg, logger, levels)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// newLogger builds the daemon's logger: log.level is the root level, and each component's
// level can be changed at run time through levels (the Connect API's /admin/loggers).
func newLogger(w io.Writer, cfg daemon.LogConfig) (*slog.Logger, *loglevel.Levels, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(cfg.Level))); err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	levels := loglevel.New(level, nil)
	opts := &slog.HandlerOptions{Level: loglevel.Lowest} // levels filters
	if cfg.Format == "text" {
		return slog.New(levels.Handler(slog.NewTextHandler(w, opts))), levels, nil
	}
	return slog.New(levels.Handler(slog.NewJSONHandler(w, opts))), levels, nil
}
