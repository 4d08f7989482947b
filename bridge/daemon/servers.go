package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kbridge/kbridge/bridge/connect"
	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/bridge/intake"
	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/bridge/streamapi"
	"github.com/kbridge/kbridge/sink"
)

// servers are the daemon's HTTP listeners. The intake stops first at shutdown; the rest
// (metrics, health) last, so the shutdown itself can be watched.
type servers struct {
	rest []*http.Server
	wg   sync.WaitGroup

	// The intake and the Stream API run their own servers until their contexts end.
	stopHTTP   context.CancelFunc
	intakeDone chan error
	stopAPI    context.CancelFunc
	apiDone    chan error
	// The Connect REST API stops with the intake, before the pipelines it manages.
	stopConnect context.CancelFunc
	connectDone chan error
}

// startServers starts the listeners; an address that cannot be listened on is an error.
func (d *Daemon) startServers(ctx context.Context, m *sink.Manager) (*servers, error) {
	s := &servers{stopHTTP: func() {}, stopAPI: func() {}, stopConnect: func() {}}
	if err := d.startHTTP(ctx, s, m); err != nil {
		return s, err
	}
	if addr := d.cfg.Metrics.Listen; addr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK\n")) })
		mux.HandleFunc("GET /readyz", d.ready)
		if d.cfg.Metrics.Pprof {
			mux.HandleFunc("GET /debug/pprof/", pprof.Index)
			mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		}
		srv, err := s.serve(ctx, d, "metrics.listen", addr, mux)
		if err != nil {
			return s, err
		}
		s.rest = append(s.rest, srv)
	}
	return s, nil
}

// ready answers 200 once the storage levels recovered and started, the replica caught up with
// the shared definitions and the status topic (distributed mode), the Storage API answers and, when pipelines are
// configured, a Kafka broker answers.
func (d *Daemon) ready(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	m, cl := d.manager, d.cluster
	d.mu.Unlock()
	select {
	case <-m.Ready():
	default:
		http.Error(w, "storage levels are recovering", http.StatusServiceUnavailable)
		return
	}
	if cl != nil {
		select {
		case <-cl.log.Ready():
		default:
			http.Error(w, "catching up with the shared definitions", http.StatusServiceUnavailable)
			return
		}
		select {
		case <-cl.statuses.Ready():
		default:
			http.Error(w, "catching up with the status topic", http.StatusServiceUnavailable)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := d.storage.Index(ctx); err != nil {
		http.Error(w, "Storage API unreachable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if d.kafkaProbe != nil {
		if err := d.kafkaProbe.Ping(ctx); err != nil {
			http.Error(w, "Kafka unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("OK\n"))
}

// ListenError is a listener that could not be opened, such as a port another process holds.
// Key is the configuration key that sets its address, the way out the message names.
type ListenError struct {
	Key, Addr string
	Err       error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("%s: %v; set another address with %s or the environment variable %s",
		e.Key, e.Err, e.Key, "KBRIDGE_"+strings.ToUpper(strings.ReplaceAll(e.Key, ".", "_")))
}

func (e *ListenError) Unwrap() error { return e.Err }

// listen listens on addr, the value of the configuration key key.
func listen(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Key: key, Addr: addr, Err: err}
	}
	return ln, nil
}

// serve listens on addr (the value of key) and serves h until the server is shut down.
func (s *servers) serve(ctx context.Context, d *Daemon, key, addr string, h http.Handler) (*http.Server, error) {
	name, _, _ := strings.Cut(key, ".")
	ln, err := listen(key, addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	s.wg.Go(func() {
		if err := srv.Serve(httperr.Listener(ln, httperr.Envelope("kbridge."+name+".badRequest"))); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("listener failed", "listener", name, "addr", addr, "error", err)
		}
	})
	d.log.Info("listening", "listener", name, "addr", ln.Addr().String())
	return srv, nil
}

// startHTTP starts the intake and the Stream API, each listening before this returns.
func (d *Daemon) startHTTP(ctx context.Context, s *servers, m *sink.Manager) error {
	base := context.WithoutCancel(ctx)
	var in *intake.Server
	if d.cfg.Intake.Listen != "" {
		var err error
		if in, err = intake.New(d.cfg.Intake, intake.Deps{Sink: m, Logger: d.log.With("component", "intake"),
			Registerer: d.registry, Mapping: d.cfg.Sink.Mapping}); err != nil {
			return err
		}
		var ictx context.Context
		ictx, s.stopHTTP = context.WithCancel(base)
		if s.intakeDone, err = listenAndRun(ictx, "intake.listen", d.cfg.Intake.Listen, in.Serve); err != nil {
			return err
		}
		d.log.Info("listening", "listener", "intake", "addr", d.cfg.Intake.Listen)
	}
	if d.cfg.API.Listen != "" {
		onChange := func() {}
		if in != nil {
			onChange = in.Refresh
		}
		apiCfg := d.cfg.API
		apiCfg.DefaultBranchID = d.storageDefaultBranch // "default" is the project's default branch
		var am streamapi.Manager = m
		var tasks streamapi.SharedTasks
		if d.stats != nil {
			am = clusterManager{Manager: m, stats: d.stats}
			tasks = sharedTasks{d.cluster.statuses}
		}
		a, err := streamapi.New(apiCfg, streamapi.Deps{Manager: am, Tokens: streamapi.StorageTokens(d.storage), OnChange: onChange,
			Mapping: d.cfg.Sink.Mapping, Logger: d.log.With("component", "api"), DataDir: d.cfg.Sink.DataDir, SharedTasks: tasks})
		if err != nil {
			return err
		}
		var actx context.Context
		actx, s.stopAPI = context.WithCancel(base)
		if s.apiDone, err = listenAndRun(actx, "api.listen", d.cfg.API.Listen, a.Serve); err != nil {
			return err
		}
		d.log.Info("listening", "listener", "api", "addr", d.cfg.API.Listen)
	}
	return d.startConnect(base, s, m)
}

// startConnect starts the Kafka Connect REST API; its connectors run from startPipelines.
func (d *Daemon) startConnect(base context.Context, s *servers, m *sink.Manager) error {
	if !d.cfg.ConnectOn() {
		if d.cfg.Connect.Listen != "" {
			d.log.Info("Kafka Connect API off: kafka.brokers is empty")
		}
		return nil
	}
	ring, err := d.cfg.Sink.Encryption.Keyring() // valid: the sink manager loaded it
	if err != nil {
		return fmt.Errorf("sink.encryption: %w", err)
	}
	cfg := d.cfg.ConnectConfig()
	var shared *connect.Cluster
	if d.cluster != nil {
		shared = d.cluster.connectCluster(cfg.Worker())
	}
	c, err := connect.New(cfg, connect.Deps{Keyring: ring, Cluster: shared,
		Kafka:     kafka.Deps{Client: d.cfg.Kafka, Writer: m, Logger: d.log, Metrics: d.kafkaMetrics, Drain: d.kafkaDrain},
		ProjectID: d.project, BranchID: d.cfg.DefaultBranchID, Sources: m, Supervise: d.supervise,
		Version: version(), Commit: commit(), Loggers: d.levels, Logger: d.log}) // it names its component
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	d.connect = c
	var cctx context.Context
	cctx, s.stopConnect = context.WithCancel(base)
	if s.connectDone, err = listenAndRun(cctx, "connect.listen", d.cfg.Connect.Listen, c.Serve); err != nil {
		return err
	}
	d.log.Info("listening", "listener", "connect", "addr", d.cfg.Connect.Listen)
	return nil
}

// version is the module version kbridge was built as; "devel" for a local build.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// commit is the VCS revision kbridge was built from, its first 16 hex digits as Kafka's
// builds report theirs; "" when the build does not record one.
func commit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value[:min(16, len(s.Value))]
		}
	}
	return ""
}

// listenAndRun listens on addr (the value of key) and runs serve on it until ctx ends; done
// reports serve's end.
func listenAndRun(ctx context.Context, key, addr string, serve func(context.Context, net.Listener) error) (chan error, error) {
	ln, err := listen(key, addr)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	return done, nil
}

// stopIntake stops taking events: the intake answers what is in flight, then closes.
func (s *servers) stopIntake(ctx context.Context) {
	s.stopHTTP()
	s.stopConnect()
	waitDone(ctx, s.intakeDone)
	waitDone(ctx, s.connectDone)
}

// stopRest shuts the remaining listeners down and waits for every serving goroutine.
func (s *servers) stopRest(ctx context.Context) {
	s.stopAPI()
	waitDone(ctx, s.apiDone)
	shutdownAll(ctx, s.rest)
	s.wg.Wait()
}

func waitDone(ctx context.Context, done chan error) {
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func shutdownAll(ctx context.Context, list []*http.Server) {
	for _, srv := range list {
		_ = srv.Shutdown(ctx)
	}
}
