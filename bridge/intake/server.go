package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

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
	return s, nil
}

// Handler serves the intake's routes on fasthttp (Serve uses it; a benchmark may call it
// with a RequestCtx of its own).
func (s *Server) Handler() fasthttp.RequestHandler { return s.serve }

// Refresh rebuilds the index of sources at once; call it after sources were created,
// deleted or got a new secret, so the intake knows them without waiting for a miss.
func (s *Server) Refresh() { s.index.rebuild() }

// Drain makes the intake answer new requests with 503 stream.in.shutdown; Serve calls it
// when its context ends.
func (s *Server) Drain() { s.draining.Store(true) }

// Run listens on Config.Listen and serves until ctx ends; see Serve.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("intake: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// httpServer is the fasthttp server of the configuration. Every answer is the intake's JSON
// envelope: requests fasthttp cannot read get theirs from ErrorHandler (400, 408 for a
// client too slow to send its request within ReadTimeout, 413, 431 for headers over
// MaxHeaderBytes), and the listener (see jsonListener) turns any answer fasthttp would still
// write in plain text into JSON.
func (s *Server) httpServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:      s.serve,
		ErrorHandler: s.readError,
		// The read buffer holds the request line and headers, so its size is their limit.
		ReadBufferSize:        s.cfg.MaxHeaderBytes,
		MaxRequestBodySize:    int(max(s.cfg.MaxBodySize, s.cfg.MaxNDJSONBodySize)),
		HeaderReceived:        s.bodyLimit,
		ReadTimeout:           s.cfg.ReadTimeout,
		WriteTimeout:          s.cfg.WriteTimeout,
		IdleTimeout:           s.cfg.IdleTimeout,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		ConnState:             connState,
		// The intake reads bodies itself: no multipart parsing, no logging per request.
		DisablePreParseMultipartForm: true,
		Logger:                       fasthttpLogger{s.log},
	}
}

// bodyLimit bounds the body fasthttp reads, as sent, before the handler runs: maxBodySize for
// one record, maxNdjsonBodySize for NDJSON, so a request announcing a larger body is refused
// at its headers and a record's request never holds more than maxBodySize.
func (s *Server) bodyLimit(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if isNDJSON(h.ContentType()) {
		return fasthttp.RequestConfig{MaxRequestBodySize: int(s.cfg.MaxNDJSONBodySize)}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: int(s.cfg.MaxBodySize)}
}

// Serve serves on ln until ctx ends, then stops accepting (new connections are refused),
// closes the connections that wait between requests, answers requests that still arrive on
// open connections with 503 stream.in.shutdown, lets in-flight requests finish (their
// connections close after the answer) for up to ShutdownTimeout, closes the connections still
// open after it and returns. Serve owns its goroutines, the accept loop and one per
// connection (fasthttp's ServeConn), and returns after every one ended. It returns nil after
// a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer()
	jl := newJSONListener(ln)
	var conns sync.WaitGroup
	accepted := make(chan error, 1)
	go func() { accepted <- s.accept(srv, jl, &conns) }() // waited for below in every path
	s.log.Info("serving", "addr", ln.Addr().String())
	var err error
	select {
	case err = <-accepted:
		err = fmt.Errorf("intake: serve: %w", err)
		jl.closeConns(true)
		s.timeouts.stop()
		conns.Wait()
		return err
	case <-ctx.Done():
	}
	s.Drain()
	s.log.Info("stopping", "cause", context.Cause(ctx))
	_ = ln.Close()
	<-accepted
	finished := make(chan struct{})
	go func() { conns.Wait(); close(finished) }() // ends when the connections do, below
	jl.closeConns(false)
	tick := time.NewTicker(100 * time.Millisecond) // connections that turn idle close too
	defer tick.Stop()
	timeout := time.NewTimer(s.cfg.ShutdownTimeout)
	defer timeout.Stop()
	for err == nil {
		select {
		case <-finished:
			s.timeouts.stop()
			return nil
		case <-tick.C:
			jl.closeConns(false)
		case <-timeout.C:
			err = fmt.Errorf("intake: shutdown: %d connections still busy after %s", jl.open(), s.cfg.ShutdownTimeout)
		}
	}
	jl.closeConns(true)
	s.timeouts.stop() // the requests cut off see their deadline and return
	<-finished
	return err
}

// accept serves each connection of ln on a goroutine of its own until ln is closed.
func (s *Server) accept(srv *fasthttp.Server, ln *jsonListener, conns *sync.WaitGroup) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond) // out of descriptors: retry, as net/http does
				continue
			}
			return err
		}
		conns.Go(func() { _ = srv.ServeConn(c) })
	}
}

// fasthttpLogger sends fasthttp's own messages (errors serving a connection) to the debug
// level: they concern one client, and a client can cause them at will.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}
