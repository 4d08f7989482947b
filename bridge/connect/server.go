package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/bridge/loglevel"
	"github.com/kbridge/kbridge/storageapi/durable"
)

// Deps are what the server uses from outside.
type Deps struct {
	// Kafka is the template of every connector's consumer deps (client, writer, logger,
	// metrics); Source is set per connector.
	Kafka kafka.Deps
	// ProjectID and BranchID locate the sources connectors write to; a non-zero ProjectID is
	// also checked against the project in Data Streams URLs.
	ProjectID, BranchID int64
	// Sources, when set, checks that a Data Streams URL names a known source and its secret.
	Sources SourceLookup
	// Supervise runs a consumer; when nil, it runs once and a failure leaves it FAILED.
	Supervise Supervise
	// Version is reported by GET / and as the plugins' version.
	Version string
	// Commit is the commit kbridge was built from, reported by GET /; "unknown" when empty,
	// as Connect reports a build without one.
	Commit string
	// Loggers are the daemon's loggers /admin/loggers reads and changes; when nil, the
	// endpoints know only a root logger at INFO that changes nothing.
	Loggers *loglevel.Levels
	Logger  *slog.Logger
	// Keyring seals the connectors kept on disk or in the shared log (their configs may hold
	// credentials); nil keeps them in clear text.
	Keyring *durable.Keyring
	// Cluster, when set, is distributed mode: the connectors live in the cluster's shared log
	// and their tasks are spread over the live members. nil keeps them under StateDir.
	Cluster *Cluster
}

// Server is the Connect REST API and the connectors it manages. New starts nothing; Run runs
// the connectors and Serve the API, each until its context ends.
type Server struct {
	cfg     Config
	deps    Deps
	worker  string
	reg     *registry
	tr      translator
	handler http.Handler

	clusterMu    sync.Mutex
	kafkaCluster string // the Kafka cluster id, once read

	cluster    *Cluster      // nil: single node
	statusKick chan struct{} // asks publishStatuses to look now
	// pendingMarks are the connectors whose offset rewinds this replica could not apply yet:
	// their tasks do not start here until it has; guarded by the registry's lock.
	pendingMarks map[string]bool
}

// New checks the config, reads the persisted connectors and the connector files, and returns
// the server. A connector file with an invalid config is an error naming the file and key.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Commit == "" {
		deps.Commit = "unknown"
	}
	if deps.Loggers == nil {
		deps.Loggers = loglevel.New(slog.LevelInfo, nil)
	}
	if deps.Supervise == nil {
		deps.Supervise = func(ctx context.Context, _ string, c *kafka.Consumer) { _ = c.Run(ctx) }
	}
	s := &Server{cfg: cfg, deps: deps, worker: cfg.Worker(), cluster: deps.Cluster, statusKick: make(chan struct{}, 1), pendingMarks: map[string]bool{},
		tr: translator{projectID: deps.ProjectID, branchID: deps.BranchID, sources: deps.Sources}}
	s.reg = &registry{kafka: deps.Kafka, project: deps.ProjectID, branch: deps.BranchID, supervise: deps.Supervise,
		store: &store{dir: cfg.StateDir, ring: deps.Keyring}, cluster: deps.Cluster, log: deps.Logger.With("component", "connect"), conns: map[string]*connector{}}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) load() error {
	var persisted []*connector
	var err error
	if s.cluster == nil { // else they are in the shared log, applied after the files
		if persisted, err = s.reg.store.load(); err != nil {
			return err
		}
	}
	files, err := s.cfg.connectorFiles()
	if err != nil {
		return err
	}
	var fromFiles []*connector
	origin := map[string]string{} // the file each connector is read from
	for _, c := range persisted {
		origin[c.Name] = s.reg.store.path(c.Name)
	}
	for _, f := range files {
		c, err := readConnectorFile(f)
		if err != nil {
			return err
		}
		fromFiles = append(fromFiles, c)
		origin[c.Name] = f
	}
	for _, c := range append(persisted, fromFiles...) { // files win
		if _, err := checkClass(c.Config); err != nil {
			return fmt.Errorf("connector %s: %w", c.Name, err)
		}
		p, warnings, err := s.tr.pipeline(c.Config)
		if c.fromFile { // a file is strict, as kbridge's own config file: a typo is no setting
			err = errors.Join(err, unknownKeys(origin[c.Name], p.Unknown))
		}
		if err != nil {
			return errors.Join(errors.New("connector "+c.Name), err)
		}
		for _, w := range warnings {
			s.reg.log.Warn("connector key", "connector", c.Name, "warning", w)
		}
		c.pipeline = p
		if err := s.reg.store.loadSide(rereadKind, c.Name, &c.Reread); err != nil {
			return err
		}
		if err := s.reg.store.loadSide(topicsKind, c.Name, &c.Topics); err != nil {
			return err
		}
		s.reg.conns[c.Name] = c
	}
	var clashes []error
	for _, name := range slices.Sorted(maps.Keys(s.reg.conns)) {
		if why := s.cfg.collision(name, s.reg.conns[name].pipeline.GroupID); why != "" {
			clashes = append(clashes, fmt.Errorf("connector %s (%s) %s", name, origin[name], why))
		}
	}
	if len(clashes) > 0 {
		return errors.Join(clashes...)
	}
	if s.cluster != nil { // what the log holds so far; a connector there wins over its file
		changes, _ := s.cluster.Changes.take()
		s.applyChanges(changes)
	}
	return nil
}

// Handler returns the REST API.
func (s *Server) Handler() http.Handler { return s.handler }

// Run runs the connectors that should run until ctx ends, then stops them, committing what is
// done, and returns once every consumer has returned.
func (s *Server) Run(ctx context.Context) {
	if s.cluster == nil {
		s.reg.run(ctx, nil)
		return
	}
	published := make(chan struct{})
	go func() { defer close(published); s.publishStatuses(ctx) }()
	s.reg.run(ctx, s.follow)
	<-published
}

// Serve answers on ln until ctx ends, then shuts the listener down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	served := make(chan error, 1)
	ln = httperr.Listener(ln, func(status int, reason string) []byte {
		b, _ := json.Marshal(errorMessage{ErrorCode: status, Message: reason})
		return b
	})
	go func() { served <- srv.Serve(ln) }() // waited for below in every path
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
