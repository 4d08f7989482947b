package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/connect"
	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/bridge/loglevel"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi"
)

// Daemon is a configured kbridge process. New starts nothing; Run runs it until ctx ends.
type Daemon struct {
	cfg      Config
	log      *slog.Logger
	levels   *loglevel.Levels // the loggers' levels the Connect API changes; nil: none
	registry *prometheus.Registry
	storage  *storageapi.Client
	project  int64
	// storageDefaultBranch is the project's default branch, as Storage lists it.
	storageDefaultBranch int64

	mu      sync.Mutex
	manager *sink.Manager
	cluster *clusterRun             // nil unless cluster.enabled
	stats   *sink.ClusterStatistics // nil unless cluster.enabled; set before the servers start
	started chan struct{}           // closed once everything runs

	kafkaProbe   *kgo.Client // for /readyz; nil without pipelines and the Connect API
	kafkaMetrics *kafka.Metrics
	kafkaDrain   *kafka.Drain    // started at shutdown with drainOnShutdown
	connect      *connect.Server // nil when the Connect API is off
}

// New checks the configuration and builds the Storage API client. levels, when not nil, are
// the levels of log's loggers, which the Connect API's /admin/loggers reads and changes.
func New(cfg Config, log *slog.Logger, levels *loglevel.Levels) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	storage, err := storageapi.New(cfg.Storage)
	if err != nil {
		return nil, err
	}
	var probe *kgo.Client
	if len(cfg.Pipelines) > 0 || cfg.ConnectOn() || cfg.ClusterOn() {
		opts, err := cfg.Kafka.Options()
		if err != nil {
			return nil, err
		}
		// The probe answers within its callers' bounds (the start timeout, /readyz's 2s) also
		// when a broker accepts the connection and never answers.
		opts = append(opts, kgo.DialTimeout(2*time.Second), kgo.RequestTimeoutOverhead(2*time.Second))
		if probe, err = kgo.NewClient(opts...); err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Daemon{cfg: cfg, log: log, levels: levels, registry: registry, storage: storage,
		started: make(chan struct{}), kafkaProbe: probe, kafkaMetrics: kafka.NewMetrics(registry),
		kafkaDrain: kafka.NewDrain()}, nil
}

// Started is closed once the storage levels, the pipelines and the listeners run.
func (d *Daemon) Started() <-chan struct{} { return d.started }

// Manager returns the sink manager; nil before Run opened it.
func (d *Daemon) Manager() *sink.Manager {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.manager
}

// SourceKey returns the key of a configured source id, once Run knows the project.
func (d *Daemon) SourceKey(id string) sink.SourceKey {
	return sink.SourceKey{ProjectID: d.project, BranchID: d.cfg.DefaultBranchID, SourceID: id}
}

// Run starts everything, waits for ctx to end (SIGTERM) and shuts down in order. It returns
// early with an error when a component cannot start or the storage levels fail.
func (d *Daemon) Run(ctx context.Context) error {
	if d.kafkaProbe != nil {
		defer d.kafkaProbe.Close() // after every listener, /readyz included, has stopped
		if err := d.pingKafka(ctx); err != nil {
			return err
		}
	}
	token, err := d.storage.VerifyToken(ctx)
	if err != nil {
		return fmt.Errorf("verify the Storage API token (storage.url %s): %w", d.cfg.Storage.URL, err)
	}
	d.project = token.ProjectID()
	if !token.IsMasterToken {
		return fmt.Errorf("storage.token: must be a master token: kbridge creates a token for each sink, and token %s (%q) cannot", token.ID, token.Description)
	}
	if err := d.resolveBranches(ctx); err != nil {
		return err
	}
	deps := sink.Deps{Storage: d.storage, Logger: d.log.With("component", "sink"), Registerer: d.registry}
	var cl *clusterRun
	if d.cfg.ClusterOn() {
		if cl, err = d.startCluster(ctx); err != nil {
			return err
		}
		defer cl.close() // after the sink manager stopped
		deps.Shared = cl.shared
	}
	manager, err := sink.New(d.cfg.Sink, deps)
	if err != nil {
		return err
	}
	if d.cfg.Sink.Encryption == (sink.EncryptionConfig{}) {
		d.log.Warn("sink.encryption has no key: source secrets, upload credentials and connector configs are stored in clear text under sink.dataDir")
		if cl != nil {
			d.log.Warn("sink.encryption has no key: source secrets and sink tokens are written in clear text to the shared definitions topic", "topic", d.cfg.Cluster.ConfigTopic)
		}
	}
	d.mu.Lock()
	d.manager, d.cluster = manager, cl
	d.mu.Unlock()
	if err := d.applyDefinitions(manager); err != nil {
		return err
	}
	manager.IssueMissingTokens() // sinks stored before kbridge made a token per sink

	levelsCtx, stopLevels := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopLevels(nil)
	levelsDone := make(chan error, 1)
	go func() { levelsDone <- manager.Run(levelsCtx) }()
	select {
	case <-manager.Ready():
	case err := <-levelsDone:
		return fmt.Errorf("storage levels: %w", err)
	case <-ctx.Done():
	}
	if cl != nil {
		stats, stopStats, err := d.startStatistics(cl, manager)
		if err != nil {
			return errors.Join(err, d.shutdown(&servers{stopHTTP: func() {}, stopAPI: func() {}, stopConnect: func() {}}, func() {},
				&sync.WaitGroup{}, manager, stopLevels, levelsDone))
		}
		d.stats = stats
		defer stopStats() // publishes the last totals after the shutdown, before the statuses stop
	}

	servers, err := d.startServers(ctx, manager)
	if err != nil {
		return errors.Join(err, d.shutdown(servers, func() {}, &sync.WaitGroup{}, manager, stopLevels, levelsDone))
	}
	if cl != nil {
		worker := ""
		if d.cfg.ConnectOn() {
			worker = d.cfg.ConnectConfig().Worker()
		}
		defer cl.startHeartbeat(worker, d.log.With("component", "cluster"))() // removed after the shutdown: others take the tasks
	}
	kafkaCtx, stopKafka := context.WithCancel(context.WithoutCancel(ctx))
	var pipelines sync.WaitGroup
	d.startPipelines(kafkaCtx, manager, &pipelines)
	d.log.Info("kbridge running", "project", d.project, "sources", len(manager.Sources()), "pipelines", len(d.cfg.Pipelines))
	close(d.started)

	var runErr error
	var clusterDone, statusDone chan error // nil: never ready
	if cl != nil {
		clusterDone, statusDone = cl.done, cl.statusDone
	}
	select {
	case <-ctx.Done():
	case runErr = <-levelsDone:
		runErr = fmt.Errorf("storage levels stopped: %w", runErr)
	case err := <-clusterDone:
		clusterDone <- err // for close
		runErr = fmt.Errorf("cluster: shared definitions log stopped: %w", err)
	case err := <-statusDone:
		statusDone <- err // for close
		runErr = fmt.Errorf("cluster: status topic stopped: %w", err)
	}
	return errors.Join(runErr, d.shutdown(servers, stopKafka, &pipelines, manager, stopLevels, levelsDone))
}

// KafkaStartTimeout bounds the wait for a Kafka broker at start.
const KafkaStartTimeout = 15 * time.Second

// pingKafka fails when no broker of kafka.brokers answers within KafkaStartTimeout: a wrong
// address is an error at start, not a pipeline that never consumes.
func (d *Daemon) pingKafka(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, KafkaStartTimeout)
	defer cancel()
	if err := d.kafkaProbe.Ping(ctx); err != nil {
		return fmt.Errorf("kafka.brokers %s: no broker answered within %s: %w", strings.Join(d.cfg.Kafka.Brokers, ","), KafkaStartTimeout, err)
	}
	return nil
}

// shutdown stops in the documented order: HTTP listeners, Kafka polling (committing what is
// done), then the storage levels (final flush and fsync, state persisted). With
// drainOnShutdown the local level is imported between the first two (see drain).
func (d *Daemon) shutdown(servers *servers, stopKafka context.CancelFunc, pipelines *sync.WaitGroup,
	manager *sink.Manager, stopLevels context.CancelCauseFunc, levelsDone chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	d.log.Info("shutting down")
	servers.stopIntake(ctx)
	select {
	case <-d.started: // not on a failed start: nothing was taken
		if d.cfg.DrainOnShutdown {
			d.drain(ctx, manager)
		}
	default:
	}
	stopKafka()
	stopped := make(chan struct{})
	go func() { pipelines.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		// What a pipeline did not commit is read again after the restart.
		d.log.Error("Kafka pipelines did not stop within shutdownTimeout; stopping the storage levels anyway",
			"shutdownTimeout", d.cfg.ShutdownTimeout)
	}
	err := manager.Close(ctx)
	stopLevels(errors.New("shutdown"))
	select {
	case <-levelsDone:
	case <-ctx.Done():
	}
	servers.stopRest(ctx)
	d.log.Info("stopped")
	return err
}

// drain imports what the local level holds before the Kafka pipelines stop, so that a replica
// removed with its volume leaves nothing on it and its Kafka records are committed, not read
// again by the members that take its partitions over. The Kafka tasks stop reading first (they
// keep committing), then every sink closes its file and imports it. It takes at most
// drainShare of what is left of ctx: the rest of the shutdown keeps its time. What is not
// imported by then stays on the volume, as without a drain.
func (d *Daemon) drain(ctx context.Context, m *sink.Manager) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Until(deadline)*drainShare/100)
		defer cancel()
	}
	start := time.Now()
	d.kafkaDrain.Start()
	if err := d.kafkaDrain.Wait(ctx); err != nil {
		d.log.Error("drain: the local level stays on the volume", "error", err)
		return
	}
	if err := m.Drain(ctx); err != nil {
		d.log.Error("drain: the rest stays on the volume", "error", err)
		return
	}
	d.log.Info("drained: every file of the local level is imported", "took", time.Since(start).Round(time.Millisecond))
}

// drainShare is the percentage of what is left of shutdownTimeout, once the intake stopped,
// the drain may take.
const drainShare = 75

// resolveBranches reads the project's default branch: the Stream API's "default" is that
// branch, and so is defaultBranchId when it is 0; a defaultBranchId the project does not have
// is a config error.
func (d *Daemon) resolveBranches(ctx context.Context) error {
	def, err := d.storage.DefaultBranch(ctx)
	if err != nil {
		return fmt.Errorf("read the project's default branch (storage.url %s): %w", d.cfg.Storage.URL, err)
	}
	d.storageDefaultBranch = def.ID
	if d.cfg.DefaultBranchID == 0 {
		d.cfg.DefaultBranchID = def.ID
		return nil
	}
	if _, err := d.storage.BranchOf(ctx, d.cfg.DefaultBranchID); err != nil {
		return fmt.Errorf("defaultBranchId: %d is not a branch of project %d: %w", d.cfg.DefaultBranchID, d.project, err)
	}
	return nil
}

// applyDefinitions puts the configured sources and sinks into the manager.
func (d *Daemon) applyDefinitions(m *sink.Manager) error {
	for _, s := range d.cfg.Sources {
		key := sink.SourceKey{ProjectID: d.project, BranchID: d.cfg.DefaultBranchID, SourceID: s.ID}
		src := sink.Source{Key: key, Type: s.Type, Name: s.Name, Secret: s.Secret, Settings: s.Settings}
		if src.Type == "" {
			src.Type = "http"
		}
		if src.Name == "" {
			src.Name = s.ID
		}
		if err := retryConflict(m, func() error { return m.PutSource(src) }); err != nil {
			return fmt.Errorf("sources %s: %w", s.ID, err)
		}
		for _, k := range s.Sinks {
			def := sink.Sink{Key: sink.SinkKey{SourceKey: key, SinkID: k.ID}, Name: k.Name, TableID: k.TableID,
				Columns: k.Columns, Settings: k.Settings}
			if def.Name == "" {
				def.Name = k.ID
			}
			if err := retryConflict(m, func() error { return m.PutSink(def) }); err != nil {
				return fmt.Errorf("sources %s sinks %s: %w", s.ID, k.ID, err)
			}
		}
	}
	return nil
}

// retryConflict runs put again while another replica's write of the same definition wins (in
// distributed mode every replica puts the configured sources at start): once this replica has
// applied the winner's record, a put of the same definition is no change. The manager does not
// follow the log before it runs, so the winner's record is applied here before each retry.
func retryConflict(m *sink.Manager, put func() error) error {
	wait := 50 * time.Millisecond
	for range 10 {
		err := put()
		if !errors.Is(err, sink.ErrConflict) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
		m.ApplySharedChanges()
	}
	return put()
}

// startPipelines runs every Kafka pipeline, configured or created over the Connect API, under
// a supervisor that restarts it with backoff when it fails (Kafka Connect leaves failed tasks
// failed).
func (d *Daemon) startPipelines(ctx context.Context, m *sink.Manager, wg *sync.WaitGroup) {
	metrics := d.kafkaMetrics
	if d.connect != nil {
		wg.Go(func() { d.connect.Run(ctx) })
	}
	for _, keys := range d.cfg.Pipelines {
		p, warnings, _ := kafka.ParsePipeline(keys) // validated with the config
		for _, w := range warnings {
			d.log.Warn("pipeline key", "pipeline", p.Name, "warning", w)
		}
		source := sink.SourceKey{ProjectID: d.project, BranchID: d.cfg.DefaultBranchID, SourceID: p.Source}
		c, err := kafka.NewConsumer(p, kafka.Deps{Client: d.cfg.Kafka, Source: source, Writer: m, Drain: d.kafkaDrain,
			Logger: d.log, Metrics: metrics})
		if err != nil {
			d.log.Error("pipeline not started", "pipeline", p.Name, "error", err)
			continue
		}
		wg.Go(func() { d.supervise(ctx, p.Name, c) })
	}
}

func (d *Daemon) supervise(ctx context.Context, name string, c *kafka.Consumer) {
	wait := time.Second
	for {
		err := c.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		d.log.Error("pipeline failed; restarting", "pipeline", name, "error", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, d.cfg.RestartBackoff)
	}
}
