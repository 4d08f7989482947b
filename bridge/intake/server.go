package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// Sink is what the intake needs from the sink manager (*sink.Manager implements it).
// Every method may be called concurrently from many requests.
type Sink interface {
	// Source returns a source definition by key (a map lookup: called per request).
	Source(k sink.SourceKey) (sink.Source, bool)
	// Sources lists every source; called only to rebuild the intake's index.
	Sources() []sink.Source
	// Sinks lists a source's sinks; called for NDJSON bodies sent to several branches and
	// for verbose answers only.
	Sinks(k sink.SourceKey) ([]sink.Sink, error)
	// Write renders events through every enabled sink of the source and appends the rows.
	// The events' bytes are borrowed only until Write returns.
	Write(ctx context.Context, k sink.SourceKey, events []mapping.Event, positions []sink.Position) (*sink.Write, error)
	// WriteBatch is Write that appends nothing when any event fails to render in any sink.
	WriteBatch(ctx context.Context, k sink.SourceKey, events []mapping.Event, positions []sink.Position) (*sink.Write, error)
}

// Deps are the collaborators of a Server.
type Deps struct {
	// Sink receives the records. Required.
	Sink Sink
	// Logger defaults to discarding; nothing is logged per request on success.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Mapping configures the mappings compiled to check NDJSON batches before writing.
	Mapping mapping.Config
}

// Server is the HTTP intake. New starts nothing; Run or Serve serve until their context
// ends, then stop accepting, let in-flight requests finish and return.
type Server struct {
	cfg      Config
	sink     Sink
	log      *slog.Logger
	met      *metrics
	proxies  []netip.Prefix
	index    sourceIndex
	checker  batchChecker
	draining atomic.Bool
	timeouts *deadlines
	handler  http.Handler
}

// New validates cfg and builds the server.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Sink == nil {
		return nil, errors.New("intake deps: sink must be set")
	}
	if err := deps.Mapping.Validate(); err != nil {
		return nil, fmt.Errorf("intake deps: mapping: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	met, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	proxies, _ := parsePrefixes(cfg.TrustedProxies) // checked by Validate
	s := &Server{cfg: cfg, sink: deps.Sink, log: deps.Logger.With("component", "intake"), met: met, proxies: proxies}
	s.timeouts = newDeadlines(cfg.RequestTimeout)
	s.index.sink = deps.Sink
	s.checker.cfg = deps.Mapping
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s, nil
}

// Handler serves the intake's routes.
func (s *Server) Handler() http.Handler { return s.handler }

// Refresh rebuilds the index of sources at once; call it after sources were created,
// deleted or got a new secret, so the intake knows them without waiting for a miss.
func (s *Server) Refresh() { s.index.rebuild() }

// Drain makes the intake answer new requests with 503 stream.in.shutdown; Serve calls it
// when its context ends. A daemon serving Handler on its own http.Server calls it before
// shutting that server down.
func (s *Server) Drain() { s.draining.Store(true) }

// Run listens on Config.Listen and serves until ctx ends; see Serve.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("intake: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then stops accepting, answers new requests on open
// connections with 503 stream.in.shutdown, waits up to ShutdownTimeout for in-flight
// requests and returns. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:        s.handler,
		ReadTimeout:    s.cfg.ReadTimeout,
		WriteTimeout:   s.cfg.WriteTimeout,
		IdleTimeout:    s.cfg.IdleTimeout,
		MaxHeaderBytes: s.cfg.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // waited for below in every path
	s.log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("intake: serve: %w", err)
	case <-ctx.Done():
	}
	s.Drain()
	s.log.Info("stopping", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("intake: shutdown: %w", err)
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	s.timeouts.stop()
	return err
}
