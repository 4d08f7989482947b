package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

// Defaults of the emulator command; each is overridable by flag or environment variable.
const (
	defaultEmulatorListen = "127.0.0.1:8001"
	defaultEmulatorURL    = "http://" + defaultEmulatorListen
)

func init() {
	commands["emulator"] = command{
		summary: "run the local Storage API emulator ('emulator tables', 'emulator preview TABLE' inspect one)",
		run:     runEmulator,
	}
}

func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "tables":
			return runEmulatorTables(ctx, args[1:], stdout, stderr)
		case "preview":
			return runEmulatorPreview(ctx, args[1:], stdout, stderr)
		case "serve":
			args = args[1:]
		}
	}
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", envOr("KBRIDGE_EMULATOR_LISTEN", defaultEmulatorListen), "address to listen on (env KBRIDGE_EMULATOR_LISTEN); port 0 picks a free one")
	dataDir := fs.String("data-dir", envOr("KBRIDGE_EMULATOR_DATA_DIR", ".kbridge-emulator"), "directory holding the emulator's state (env KBRIDGE_EMULATOR_DATA_DIR)")
	token := fs.String("token", envOr("KBRIDGE_EMULATOR_TOKEN", emulator.DefaultToken), "master token (env KBRIDGE_EMULATOR_TOKEN)")
	publicURL := fs.String("public-url", os.Getenv("KBRIDGE_EMULATOR_PUBLIC_URL"), "URL clients reach the emulator at, if not the request's Host (env KBRIDGE_EMULATOR_PUBLIC_URL)")
	jobDelayDefault, err := envDuration("KBRIDGE_EMULATOR_JOB_DELAY", emulator.DefaultConfig().JobDelay)
	if err != nil {
		return err
	}
	jobDelay := fs.Duration("job-delay", jobDelayDefault, "how long jobs stay waiting (env KBRIDGE_EMULATOR_JOB_DELAY)")
	branchDefault := emulator.DefaultConfig().DefaultBranchID
	if v := os.Getenv("KBRIDGE_EMULATOR_DEFAULT_BRANCH_ID"); v != "" {
		if branchDefault, err = strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("KBRIDGE_EMULATOR_DEFAULT_BRANCH_ID: %w", err)
		}
	}
	branch := fs.Int64("default-branch-id", branchDefault, "id of the project's default branch (env KBRIDGE_EMULATOR_DEFAULT_BRANCH_ID)")
	features := fs.String("features", os.Getenv("KBRIDGE_EMULATOR_FEATURES"), "comma-separated stack features the index lists, e.g. disable-legacy-bucket-prefix (env KBRIDGE_EMULATOR_FEATURES)")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	cfg := emulator.DefaultConfig()
	cfg.DataDir, cfg.MasterToken, cfg.JobDelay, cfg.PublicURL = *dataDir, *token, *jobDelay, *publicURL
	cfg.DefaultBranchID = *branch
	if *features != "" {
		cfg.Features = strings.Split(*features, ",")
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil)).With("component", "emulator")
	em, err := emulator.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "kbridge emulator listening on http://%s (data dir %s)\n", ln.Addr(), cfg.DataDir)
	return em.Serve(ctx, ln)
}

// emulatorClient parses --url and --token and returns a Storage API client.
func emulatorClient(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*storageapi.Client, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("emulator "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", envOr("KBRIDGE_EMULATOR_URL", defaultEmulatorURL), "emulator URL (env KBRIDGE_EMULATOR_URL)")
	token := fs.String("token", envOr("KBRIDGE_EMULATOR_TOKEN", emulator.DefaultToken), "Storage API token (env KBRIDGE_EMULATOR_TOKEN)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, parseError(err)
	}
	cfg := storageapi.DefaultConfig()
	cfg.URL, cfg.Token = *url, *token
	cfg.RequestTimeout, cfg.Retry.MaxAttempts = 10*time.Second, 2
	client, err := storageapi.New(cfg)
	return client, fs, err
}

func runEmulatorTables(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	client, _, err := emulatorClient("tables", args, stderr, nil)
	if err != nil {
		return err
	}
	tables, err := client.ListTables(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS\tPRIMARY KEY\tCOLUMNS")
	for _, t := range tables {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", t.ID, t.RowsCount, strings.Join(t.PrimaryKey, ","), strings.Join(t.Columns, ","))
	}
	return tw.Flush()
}

func runEmulatorPreview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var limit *int
	client, fs, err := emulatorClient("preview", args, stderr, func(fs *flag.FlagSet) {
		limit = fs.Int("limit", 100, "rows to show (at most 1000)")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: kbridge emulator preview [--url URL] [--token TOKEN] [--limit N] TABLE_ID")
		return errUsage
	}
	data, err := client.DataPreview(ctx, fs.Arg(0), *limit)
	if err != nil {
		return err
	}
	_, err = stdout.Write(data)
	return err
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("environment %s: %w", key, err)
	}
	return d, nil
}
