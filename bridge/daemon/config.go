package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kbridge/kbridge/bridge/cluster"
	"github.com/kbridge/kbridge/bridge/connect"
	"github.com/kbridge/kbridge/bridge/intake"
	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/bridge/streamapi"
	"github.com/kbridge/kbridge/bridge/strict"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/target"
	"github.com/kbridge/kbridge/storageapi"
)

// Config is the whole daemon configuration: one YAML file, every scalar key also settable by an
// environment variable named after its path (storage.token → KBRIDGE_STORAGE_TOKEN).
type Config struct {
	// DefaultBranchID is the Storage branch sources belong to unless they say otherwise; 0 is
	// the project's default branch, read from Storage at start (dev-branches, isDefault). Any
	// other id must be a branch of the project.
	DefaultBranchID int64 `yaml:"defaultBranchId"`
	// Sink configures the storage levels; sink.dataDir holds all local state.
	Sink sink.Config `yaml:"sink"`
	// Storage is the Keboola Storage API (or the emulator) and its token.
	Storage storageapi.Config `yaml:"storage"`
	// Kafka is the cluster the pipelines consume from; needed only when pipelines are set.
	Kafka kafka.ClientConfig `yaml:"kafka"`
	// Sources are source and sink definitions applied at start (they may also come from the
	// Stream API; these win at every start).
	Sources []SourceConfig `yaml:"sources"`
	// Pipelines bind Kafka topics to sources, in Kafka Connect keys; values expand ${VAR}.
	Pipelines []map[string]string `yaml:"pipelines"`
	// Intake takes events by HTTP POST on Keboola's intake URL form; an empty listen turns it off.
	Intake intake.Config `yaml:"intake"`
	// API serves Keboola's Stream API; an empty listen turns it off.
	API streamapi.Config `yaml:"api"`
	// Connect serves the Kafka Connect REST API; an empty listen turns it off, and so does an
	// empty kafka.brokers. Connectors created over it are kept under sink.dataDir/connect.
	Connect connect.Config `yaml:"connect"`
	// Cluster shares the definitions between replicas through Kafka (distributed mode); see
	// ClusterConfig.
	Cluster ClusterConfig `yaml:"cluster"`
	// Metrics serves /metrics, /healthz and /readyz (and /debug/pprof/ when asked to).
	Metrics MetricsConfig `yaml:"metrics"`
	// RestartBackoff bounds the wait before a failed Kafka pipeline is started again.
	RestartBackoff time.Duration `yaml:"restartBackoff"`
	// ShutdownTimeout bounds the whole shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
	// DrainOnShutdown imports what the local level holds at shutdown (within three quarters of
	// what is left of shutdownTimeout once the intake stopped), after the intake and the Kafka
	// reading stopped and before the Kafka offsets are committed: a replica removed with its
	// volume leaves nothing waiting on it.
	DrainOnShutdown bool `yaml:"drainOnShutdown"`
	// Log is the log format: json or text.
	Log LogConfig `yaml:"log"`
}

// SourceConfig defines a source and its sinks.
type SourceConfig struct {
	ID       string       `yaml:"id"`
	Name     string       `yaml:"name"`
	Type     string       `yaml:"type"`   // http or kafka
	Secret   string       `yaml:"secret"` // of an http source
	Settings sink.Patch   `yaml:"settings"`
	Sinks    []SinkConfig `yaml:"sinks"`
}

// SinkConfig defines a sink: a table and its column mapping.
type SinkConfig struct {
	ID       string           `yaml:"id"`
	Name     string           `yaml:"name"`
	TableID  string           `yaml:"tableId"`
	Columns  []mapping.Column `yaml:"columns"`
	Settings sink.Patch       `yaml:"settings"`
}

// MetricsConfig is the metrics listener; an empty address turns it off. Pprof adds Go's
// profiles under /debug/pprof/ (heap, goroutine, CPU profile, ...): opt-in, because they show
// the process's internals to whoever reaches the port.
type MetricsConfig struct {
	Listen string `yaml:"listen"`
	Pprof  bool   `yaml:"pprof"`
}

// ClusterConfig is distributed mode: with cluster.enabled and kafka.brokers set, sources, sinks
// and their settings live in a compacted Kafka topic every replica reads and writes (package
// bridge/cluster) instead of the data directory. Off by default: turning it on for a data
// directory that already holds definitions does not move them to the topic (put them again
// through the Stream API or the sources key).
type ClusterConfig struct {
	Enabled bool `yaml:"enabled"`
	// ConfigTopic holds the definitions: one partition, compacted, created if missing.
	ConfigTopic string `yaml:"configTopic"`
	// StatusTopic holds the replicas' statuses (their sink totals): compacted, created if
	// missing.
	StatusTopic string `yaml:"statusTopic"`
	// ReplicationFactor of the topics kbridge creates; -1 takes the broker's default.
	ReplicationFactor int `yaml:"replicationFactor"`
	// Member names this replica in the records it writes; empty: the host name (the pod name
	// in Kubernetes).
	Member string `yaml:"member"`
	// WriteRetryBackoff is the first wait before a write fenced by another replica's is tried
	// again.
	WriteRetryBackoff time.Duration `yaml:"writeRetryBackoff"`
}

// ClusterOn tells whether the definitions are shared: cluster.enabled with kafka.brokers set.
func (c Config) ClusterOn() bool { return c.Cluster.Enabled && len(c.Kafka.Brokers) > 0 }

// LogConfig configures logging.
type LogConfig struct {
	Format string `yaml:"format"` // json or text
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// DefaultConfig returns the defaults; sink.dataDir, storage.url and storage.token must be set.
func DefaultConfig() Config {
	return Config{
		Sink:    sink.DefaultConfig(),
		Storage: storageapi.DefaultConfig(),
		Intake:  intake.DefaultConfig(),
		API:     streamapi.DefaultConfig(),
		Connect: connect.DefaultConfig(),
		Cluster: ClusterConfig{ConfigTopic: cluster.DefaultTopic, StatusTopic: cluster.DefaultStatusTopic,
			ReplicationFactor: cluster.DefaultReplicationFactor, WriteRetryBackoff: cluster.DefaultWriteRetryBackoff},
		Metrics:         MetricsConfig{Listen: ":9000"},
		RestartBackoff:  time.Minute,
		ShutdownTimeout: 30 * time.Second,
		Log:             LogConfig{Format: "json", Level: "info"},
	}
}

// Load reads a config file over the defaults, then applies environment overrides.
func Load(path string, env func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := decodeStrict(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, "KBRIDGE", env); err != nil {
		return cfg, err
	}
	// Pipeline values may name environment variables, e.g. a pod's name as its static
	// group member id: ${POD_NAME}.
	for _, keys := range cfg.Pipelines {
		for k, v := range keys {
			keys[k] = os.Expand(v, func(name string) string { val, _ := env(name); return val })
		}
	}
	return cfg, cfg.Validate()
}

// Validate names every bad key.
func (c Config) Validate() error {
	var errs []error
	if c.DefaultBranchID < 0 {
		errs = append(errs, fmt.Errorf("defaultBranchId: must not be negative (0: the project's default branch), got %d", c.DefaultBranchID))
	}
	errs = append(errs, keyed("sink", c.Sink.Validate())...)
	errs = append(errs, keyed("storage", c.Storage.Validate())...)
	if c.Intake.Listen != "" {
		errs = append(errs, keyed("intake", c.Intake.Validate())...)
	}
	if c.API.Listen != "" {
		errs = append(errs, keyed("api", c.API.Validate())...)
	}
	if c.ConnectOn() {
		errs = append(errs, keyed("connect", c.ConnectConfig().Validate())...)
	}
	if c.Cluster.Enabled {
		if len(c.Kafka.Brokers) == 0 {
			errs = append(errs, errors.New("cluster.enabled: needs kafka.brokers, the Kafka cluster the replicas share definitions through"))
		} else if err := c.ClusterConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(c.Pipelines) > 0 || c.ConnectOn() || c.ClusterOn() {
		if err := c.Kafka.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	known := kafka.KnownKeys()
	for i, keys := range c.Pipelines {
		p, _, err := kafka.ParsePipeline(keys)
		for _, e := range unjoin(err) {
			errs = append(errs, fmt.Errorf("pipelines[%d]: %w", i, e))
		}
		for _, key := range p.Unknown {
			errs = append(errs, strict.Unknown(fmt.Sprintf("pipelines[%d].%s", i, key), key, known))
		}
	}
	for i, s := range c.Sources {
		if s.ID == "" {
			errs = append(errs, fmt.Errorf("sources[%d].id: missing", i))
		}
		for j, k := range s.Sinks {
			if k.ID == "" || k.TableID == "" {
				errs = append(errs, fmt.Errorf("sources[%d].sinks[%d]: id and tableId are required", i, j))
			} else if err := target.ValidateTableID(k.TableID); err != nil {
				errs = append(errs, fmt.Errorf("sources[%d].sinks[%d].tableId: %w", i, j, err))
			}
			for n, c := range k.Columns {
				if err := sink.ValidateColumnName(c.Name); err != nil {
					errs = append(errs, fmt.Errorf("sources[%d].sinks[%d].columns[%d].name %q: %w", i, j, n, c.Name, err))
				}
			}
		}
	}
	if c.RestartBackoff < time.Second {
		errs = append(errs, fmt.Errorf("restartBackoff: must be at least 1s, got %s", c.RestartBackoff))
	}
	if c.ShutdownTimeout < time.Second {
		errs = append(errs, fmt.Errorf("shutdownTimeout: must be at least 1s, got %s", c.ShutdownTimeout))
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		errs = append(errs, fmt.Errorf("log.format: must be json or text, got %q", c.Log.Format))
	}
	return errors.Join(errs...)
}

// decodeStrict reads data into cfg; a key that no field reads is an error naming its path.
func decodeStrict(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if err := errors.Join(strict.YAML(&doc, reflect.TypeOf(cfg))...); err != nil {
		return err
	}
	return doc.Decode(cfg)
}

// ClusterConfig is the shared log's config; an empty cluster.member is the host name.
func (c Config) ClusterConfig() cluster.Config {
	member := c.Cluster.Member
	if member == "" {
		member, _ = os.Hostname()
	}
	return cluster.Config{Topic: c.Cluster.ConfigTopic, StatusTopic: c.Cluster.StatusTopic,
		ReplicationFactor: c.Cluster.ReplicationFactor, Member: member, WriteRetryBackoff: c.Cluster.WriteRetryBackoff}
}

// ConnectOn tells whether the Kafka Connect REST API runs: it has a listener and there is a
// Kafka cluster to consume from.
func (c Config) ConnectOn() bool { return c.Connect.Listen != "" && len(c.Kafka.Brokers) > 0 }

// ConnectConfig is the Connect config with the daemon's state directory and the names and
// consumer groups of its pipelines, which connectors may not take.
func (c Config) ConnectConfig() connect.Config {
	cc := c.Connect
	cc.StateDir = filepath.Join(c.Sink.DataDir, "connect")
	cc.Pipelines = map[string]string{}
	for _, keys := range c.Pipelines {
		if p, _, _ := kafka.ParsePipeline(keys); p.Name != "" {
			cc.Pipelines[p.Name] = p.GroupID
		}
	}
	return cc
}

// keyed names each error of a section's Validate as the documentation names the key: the
// section's "listen: ..." is "intake.listen: ...".
func keyed(section string, err error) []error {
	var errs []error
	for _, e := range unjoin(err) {
		errs = append(errs, fmt.Errorf("%s.%w", section, e))
	}
	return errs
}

// unjoin returns the errors err joins, or err alone; nil for nil.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}
