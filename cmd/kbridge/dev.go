package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kbridge/kbridge/bridge/connect"
	"github.com/kbridge/kbridge/bridge/daemon"
	"github.com/kbridge/kbridge/bridge/loglevel"
	"github.com/kbridge/kbridge/bridge/schemaregistry"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi/durable"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

func init() {
	commands["dev"] = command{summary: "run the whole system locally: embedded Kafka broker, Storage API emulator, kbridge", run: runDev}
}

// devTable is the demo sink's table.
const devTable = "in.c-demo.events"

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr("KBRIDGE_DEV_DATA_DIR", "data"), "where everything keeps its state (env KBRIDGE_DEV_DATA_DIR)")
	kafkaPort := fs.Int("kafka-port", envInt("KBRIDGE_DEV_KAFKA_PORT", 9092), "embedded Kafka broker port on 127.0.0.1 (env KBRIDGE_DEV_KAFKA_PORT)")
	storageListen := fs.String("storage-listen", envOr("KBRIDGE_DEV_STORAGE_LISTEN", "127.0.0.1:8001"), "Storage API emulator address (env KBRIDGE_DEV_STORAGE_LISTEN)")
	metricsListen := fs.String("metrics-listen", envOr("KBRIDGE_DEV_METRICS_LISTEN", "127.0.0.1:9000"), "/metrics, /healthz, /readyz (env KBRIDGE_DEV_METRICS_LISTEN)")
	intakeListen := fs.String("intake-listen", envOr("KBRIDGE_DEV_INTAKE_LISTEN", "127.0.0.1:7000"), "HTTP intake (env KBRIDGE_DEV_INTAKE_LISTEN)")
	apiListen := fs.String("api-listen", envOr("KBRIDGE_DEV_API_LISTEN", "127.0.0.1:8000"), "Stream API (env KBRIDGE_DEV_API_LISTEN)")
	connectListen := fs.String("connect-listen", envOr("KBRIDGE_DEV_CONNECT_LISTEN", "127.0.0.1:8083"), "Kafka Connect REST API (env KBRIDGE_DEV_CONNECT_LISTEN)")
	registryListen := fs.String("schema-registry-listen", envOr("KBRIDGE_DEV_SCHEMA_REGISTRY_LISTEN", "127.0.0.1:8081"),
		"Schema Registry API, empty for none (env KBRIDGE_DEV_SCHEMA_REGISTRY_LISTEN)")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	levels := loglevel.New(slog.LevelWarn, nil)
	logger := slog.New(levels.Handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: loglevel.Lowest})))

	cluster, err := kfake.NewCluster(kfake.Ports(*kafkaPort), kfake.SeedTopics(3, "events"), kfake.AllowAutoTopicCreation(),
		kfake.DataDir(filepath.Join(*dataDir, "kafka")))
	if err != nil {
		return fmt.Errorf("embedded Kafka broker on port %d: %w; %s", *kafkaPort, err, devWayOut("kafka-port"))
	}
	defer cluster.Close()

	storageURL, stopStorage, err := startDevEmulator(filepath.Join(*dataDir, "storage"), *storageListen, "http://"+*apiListen, logger)
	if err != nil {
		return err
	}
	defer stopStorage()

	registryURL := ""
	if *registryListen != "" {
		url, stopRegistry, err := startDevRegistry(filepath.Join(*dataDir, "schema-registry"), *registryListen, logger)
		if err != nil {
			return err
		}
		defer stopRegistry()
		registryURL = url
	}

	cfg := devConfig(*dataDir, storageURL, cluster.ListenAddrs(), *metricsListen)
	cfg.Intake.Listen, cfg.Intake.PublicURL = *intakeListen, "http://"+*intakeListen
	cfg.API.Listen, cfg.API.PublicURL, cfg.API.IntakeURL = *apiListen, "http://"+*apiListen, cfg.Intake.PublicURL
	cfg.Connect.Listen = *connectListen
	cfg.Connect.Auth.Type = connect.AuthNone // a local demo: open, secrets in answers masked
	if err := durable.EnsureKeyFile(cfg.Sink.Encryption.KeyFile, "dev-1"); err != nil {
		return err
	}
	d, err := daemon.New(cfg, logger, levels)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	wg.Go(func() { done <- d.Run(runCtx) })
	select {
	case <-d.Started():
	case err := <-done:
		return devListenError(err)
	}
	printDevGuide(stdout, devGuide{broker: cluster.ListenAddrs()[0], storage: storageURL, metrics: *metricsListen,
		intake: fmt.Sprintf("%s/stream/%d/demo/%s", cfg.Intake.PublicURL, d.SourceKey("demo").ProjectID, devSecret),
		api:    cfg.API.PublicURL, connect: "http://" + cfg.Connect.Listen, registry: registryURL})
	wg.Go(func() { reportProgress(runCtx, stdout, d) })
	return <-done
}

// startDevEmulator serves the Storage API emulator until stop is called; its index announces
// kbridge's Stream API as the stack's "stream" service, as Keboola's index does.
func startDevEmulator(dir, listen, streamURL string, logger *slog.Logger) (string, func(), error) {
	cfg := emulator.DefaultConfig()
	cfg.DataDir, cfg.JobDelay, cfg.Logger = dir, 200*time.Millisecond, logger.With("component", "emulator")
	cfg.Services = []emulator.Service{{ID: "stream", URL: streamURL}}
	em, err := emulator.New(cfg)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", nil, fmt.Errorf("the Storage API emulator on %s: %w; %s", listen, err, devWayOut("storage-listen"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = em.Serve(ctx, ln) })
	return "http://" + ln.Addr().String(), func() { cancel(); wg.Wait() }, nil
}

// startDevRegistry serves the Schema Registry until stop is called.
func startDevRegistry(dir, listen string, logger *slog.Logger) (string, func(), error) {
	reg, err := schemaregistry.New(schemaregistry.Config{DataDir: dir, Logger: logger.With("component", "schema-registry")})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", nil, fmt.Errorf("the Schema Registry on %s: %w; %s (empty for none)", listen, err, devWayOut("schema-registry-listen"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = reg.Serve(ctx, ln) })
	return "http://" + ln.Addr().String(), func() { cancel(); wg.Wait() }, nil
}

// devListenFlags are the flags that set the daemon's listeners in kbridge dev, by the
// configuration key the daemon names.
var devListenFlags = map[string]string{"intake.listen": "intake-listen", "api.listen": "api-listen",
	"connect.listen": "connect-listen", "metrics.listen": "metrics-listen"}

// devListenError names the flag and variable of kbridge dev, not the daemon's configuration key,
// as the way out of an address that cannot be listened on.
func devListenError(err error) error {
	var le *daemon.ListenError
	if errors.As(err, &le) && devListenFlags[le.Key] != "" {
		return fmt.Errorf("%v; %s", le.Err, devWayOut(devListenFlags[le.Key]))
	}
	return err
}

// devWayOut says how to choose another address or port than the one a flag sets.
func devWayOut(flagName string) string {
	return fmt.Sprintf("choose another with --%s or KBRIDGE_DEV_%s", flagName, strings.ToUpper(strings.ReplaceAll(flagName, "-", "_")))
}

// devConfig is the demo: source "demo" with one sink into in.c-demo.events, fed by the Kafka
// topic "events", with short triggers so rows show up in the table within about a minute.
func devConfig(dataDir, storageURL string, brokers []string, metricsListen string) daemon.Config {
	cfg := daemon.DefaultConfig()
	cfg.Sink.DataDir = filepath.Join(dataDir, "kbridge")
	cfg.Sink.Encryption.KeyFile = filepath.Join(dataDir, "kbridge.keys") // created by runDev
	cfg.Sink.Staging.MinInterval, cfg.Sink.Target.MinInterval = time.Second, 10*time.Second
	cfg.Storage.URL, cfg.Storage.Token = storageURL, emulator.DefaultToken
	cfg.Kafka.Brokers = brokers
	cfg.Metrics.Listen = metricsListen
	cfg.Log.Format = "text"
	cfg.Sources = []daemon.SourceConfig{{ID: "demo", Name: "Demo", Type: "http", Secret: devSecret,
		Settings: sink.Patch{"storage.level.staging.upload.trigger.interval": "5s", "storage.level.target.import.trigger.interval": "30s"},
		Sinks: []daemon.SinkConfig{{ID: "events", Name: "Events", TableID: devTable, Columns: []mapping.Column{
			{Type: mapping.KindUUID, Name: "id", PrimaryKey: true},
			{Type: mapping.KindDatetime, Name: "received"},
			{Type: mapping.KindKafkaTopic, Name: "topic"},
			{Type: mapping.KindKafkaPartition, Name: "partition"},
			{Type: mapping.KindKafkaOffset, Name: "offset"},
			{Type: mapping.KindBody, Name: "body"},
		}}},
	}}
	cfg.Pipelines = []map[string]string{{"name": "demo-events", "kbridge.source": "demo", "topics": "events"}}
	return cfg
}

// devSecret is the demo source's intake secret: a local demo needs no secrecy.
const devSecret = "demo0000000000000000000000000000000000000000demo"

type devGuide struct{ broker, storage, metrics, intake, api, connect, registry string }

func printDevGuide(w io.Writer, g devGuide) {
	fmt.Fprintf(w, `kbridge dev is running (Ctrl-C stops it).

  Kafka broker        %[1]s   (topic "events" feeds source "demo")
  HTTP intake         %[4]s
  Stream API          %[5]s/v1   (token %[6]s)
  Kafka Connect API   %[9]s/connectors   (no credentials: connect.auth.type none; secrets shown as [hidden])
  Storage API         %[2]s/v2/storage   (token %[6]s, the emulator)
  Metrics             http://%[3]s/metrics
%[10]s
Send an event over HTTP:
  curl -X POST -H 'Content-Type: application/json' -d '{"user":"ann","action":"login"}' %[4]s
Produce an event to Kafka:
  echo '{"user":"ann","action":"login"}' | kcat -b %[1]s -t events -P
List the connectors:
  curl %[9]s/connectors?expand=status
See the table (rows arrive within about a minute):
  %[8]s emulator preview --url %[2]s %[7]s

`, g.broker, g.storage, g.metrics, g.intake, g.api, emulator.DefaultToken, devTable, os.Args[0], g.connect, registryLine(g.registry))
}

// registryLine is the guide's line of the Schema Registry, if kbridge dev serves one.
func registryLine(url string) string {
	if url == "" {
		return ""
	}
	return fmt.Sprintf("  Schema Registry     %s   (converters' schema.registry.url; Avro, Protobuf, JSON Schema)\n", url)
}

// reportProgress prints the demo sink's records per level whenever they change.
func reportProgress(ctx context.Context, w io.Writer, d *daemon.Daemon) {
	key := sink.SinkKey{SourceKey: d.SourceKey("demo"), SinkID: "events"}
	last := ""
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st, err := d.Manager().SinkStatistics(key)
		if err != nil {
			continue
		}
		line := fmt.Sprintf("demo/events: %d records received, %d on local disk, %d in staging, %d in the table",
			st.Total.RecordsCount, count(st.Levels.Local), count(st.Levels.Staging), count(st.Levels.Target))
		if line != last {
			fmt.Fprintln(w, line)
			last = line
		}
	}
}

func count(l *sink.LevelStatistics) int64 {
	if l == nil {
		return 0
	}
	return l.RecordsCount
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(envOr(key, "")); err == nil {
		return v
	}
	return def
}
