package streamapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// Manager is what the API needs from the sink manager (*sink.Manager implements it); see the
// sink package for each method's contract. Methods are called concurrently.
type Manager interface {
	CheckBranch(ctx context.Context, branchID int64) error
	PutSource(src sink.Source) error
	CreateSource(src sink.Source) error
	DeleteSource(k sink.SourceKey, by sink.Actor) error
	UndeleteSource(k sink.SourceKey, by sink.Actor) error
	PutSink(def sink.Sink) error
	CreateSink(def sink.Sink) error
	DeleteSink(k sink.SinkKey, by sink.Actor) error
	UndeleteSink(k sink.SinkKey, by sink.Actor) error
	Source(k sink.SourceKey) (sink.Source, bool)
	Sources() []sink.Source
	DeletedSources() []sink.Source
	Sinks(k sink.SourceKey) ([]sink.Sink, error)
	DeletedSinks(k sink.SourceKey) ([]sink.Sink, error)
	SourceVersions(k sink.SourceKey) ([]sink.Source, error)
	SinkVersions(k sink.SinkKey) ([]sink.Sink, error)
	SinkSettings(k sink.SinkKey) ([]sink.SettingView, error)
	SinkStatistics(k sink.SinkKey) (sink.Statistics, error)
	SinkFiles(k sink.SinkKey, failedOnly bool) ([]sink.FileStatistics, error)
	ClearStatistics(k sink.SinkKey) error
	ClearSourceStatistics(k sink.SourceKey) error
}

// Deps are the collaborators of a Server.
type Deps struct {
	// Manager holds the definitions. Required.
	Manager Manager
	// Tokens verifies X-StorageApi-Token. Required; StorageTokens wraps a storageapi.Client.
	Tokens Tokens
	// OnChange, when set, is called after sources were created, changed or deleted (the
	// daemon passes the intake's Refresh so new secrets work at once).
	OnChange func()
	// DataDir, when set, is where tasks persist (<dataDir>/api/tasks.json), so a task can be
	// polled across a restart; empty keeps them in memory.
	DataDir string
	// SharedTasks, when set, shares the tasks with the other replicas of a cluster
	// (distributed mode): a task one replica answered can be polled on any.
	SharedTasks SharedTasks
	// Mapping configures the mappings the test endpoint compiles.
	Mapping mapping.Config
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Server is the Stream API. New starts nothing; Run or Serve serve until their context ends.
type Server struct {
	cfg      Config
	m        Manager
	tokens   tokenCache
	tasks    taskStore
	onChange func()
	mcfg     mapping.Config
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
	defs     chan struct{} // serialises definition changes (a one-slot semaphore)
	docState
}

// New validates cfg and builds the server.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Manager == nil || deps.Tokens == nil {
		return nil, errors.New("api deps: manager and tokens must be set")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.OnChange == nil {
		deps.OnChange = func() {}
	}
	s := &Server{cfg: cfg, m: deps.Manager, onChange: deps.OnChange, mcfg: deps.Mapping,
		log: deps.Logger.With("component", "api"), now: deps.Now, mux: http.NewServeMux(), defs: make(chan struct{}, 1)}
	s.tokens = tokenCache{tokens: deps.Tokens, ttl: cfg.TokenCacheTTL, now: deps.Now}
	s.tasks = taskStore{ttl: cfg.TaskTTL, now: deps.Now, file: tasksFile(deps.DataDir), shared: deps.SharedTasks, log: s.log}
	if err := s.tasks.load(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Handler serves the API's routes.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Run listens on Config.Listen and serves until ctx ends; see Serve.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then stops accepting, waits up to ShutdownTimeout for
// in-flight requests and returns (nil after a clean shutdown).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadTimeout: s.cfg.ReadTimeout, WriteTimeout: s.cfg.WriteTimeout,
		IdleTimeout: s.cfg.IdleTimeout, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	served := make(chan error, 1)
	ln = httperr.Listener(ln, httperr.Envelope("stream.api.badRequest"))
	go func() { served <- srv.Serve(ln) }() // waited for below in every path
	s.log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("api: shutdown: %w", err)
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// call is one authenticated request.
type call struct {
	r      *http.Request
	token  Token
	branch int64
}

func (c *call) sourceKey() sink.SourceKey {
	return sink.SourceKey{ProjectID: c.token.ProjectID, BranchID: c.branch, SourceID: c.r.PathValue("sourceId")}
}

// actor is the call's token as the author of a change.
func (c *call) actor() sink.Actor {
	return sink.Actor{Type: "user", TokenID: c.token.ID, TokenDesc: c.token.Description}
}

// change describes a change made by the call: the client's description, else def.
func (c *call) change(description, def string) sink.Change {
	if description == "" {
		description = def
	}
	return sink.Change{Description: description, By: c.actor()}
}

func (c *call) sinkKey() sink.SinkKey {
	return sink.SinkKey{SourceKey: c.sourceKey(), SinkID: c.r.PathValue("sinkId")}
}

// endpoint handles a call and returns the status and the JSON body (nil: no body).
type endpoint func(c *call) (int, any, error)

// handle registers an endpoint; write endpoints need an admin token.
func (s *Server) handle(pattern string, write bool, ep endpoint) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		status, body, err := s.invoke(r, write, ep)
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, status, body)
	})
}

func (s *Server) invoke(r *http.Request, write bool, ep endpoint) (int, any, error) {
	tok, err := s.authenticate(r, write)
	if err != nil {
		return 0, nil, err
	}
	c := &call{r: r, token: tok}
	if b := r.PathValue("branchId"); b != "" {
		if c.branch, err = s.branchID(b); err != nil {
			return 0, nil, err
		}
		if err := s.m.CheckBranch(r.Context(), c.branch); err != nil {
			return 0, nil, refusal(err)
		}
	}
	if write { // authenticated first: only admins queue here
		release, err := s.lockDefinitions(r.Context())
		if err != nil {
			return 0, nil, err
		}
		defer release()
	}
	return ep(c)
}

// lockDefinitions serialises definition changes, so their checks and writes do not
// interleave; a caller that goes away stops waiting.
func (s *Server) lockDefinitions(ctx context.Context) (release func(), err error) {
	select {
	case s.defs <- struct{}{}:
		return func() { <-s.defs }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (s *Server) branchID(v string) (int64, error) {
	if v == "default" {
		return s.cfg.DefaultBranchID, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, httperr.New(http.StatusBadRequest, "stream.api.badRequest", "Invalid branch ID %q: expected a positive integer or \"default\".", v)
	}
	return id, nil
}

var corsHeaders = map[string][]string{
	"Access-Control-Allow-Origin":  {"*"},
	"Access-Control-Allow-Headers": {"Content-Type, X-StorageApi-Token, X-KBC-ProjectId, Authorization"},
	"Access-Control-Allow-Methods": {"GET, POST, PUT, PATCH, DELETE"},
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range corsHeaders {
		w.Header()[k] = v
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.fail(w, s.noRoute(r))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodySize)
	s.mux.ServeHTTP(w, r)
}

// noRoute is 405 when the path exists with another method, else 404.
func (s *Server) noRoute(r *http.Request) error {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			return httperr.New(http.StatusMethodNotAllowed, "stream.api.methodNotAllowed", "Method %s is not allowed here.", r.Method)
		}
	}
	return httperr.New(http.StatusNotFound, "stream.api.routeNotFound", "Route %s %s not found.", r.Method, r.URL.Path)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	e := httperr.As(err, "stream.api.internalError")
	if e.Status == http.StatusInternalServerError {
		e.ExceptionID = "kbridge-stream-api-" + randomID(16)
		s.log.Error("request failed", "status", e.Status, "exceptionId", e.ExceptionID, "error", err)
		if e.Err != nil && e.Name == "stream.api.internalError" {
			e.Message = "Application error. Please contact our support with the exception id."
		}
	}
	httperr.Write(w, e)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}
