package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// servers are the daemon's HTTP listeners. The intake stops first at shutdown; the rest
// (metrics, health) last, so the shutdown itself can be watched.
type servers struct {
	intake []*http.Server
	rest   []*http.Server
	wg     sync.WaitGroup
}

// startServers starts the listeners; an address that cannot be listened on is an error.
func (d *Daemon) startServers(ctx context.Context) (*servers, error) {
	s := &servers{}
	if addr := d.cfg.Metrics.Listen; addr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK\n")) })
		mux.HandleFunc("GET /readyz", d.ready)
		srv, err := s.serve(ctx, d, "metrics", addr, mux)
		if err != nil {
			return s, err
		}
		s.rest = append(s.rest, srv)
	}
	return s, nil
}

// ready answers 200 once the storage levels recovered and started, and the Storage API answers.
func (d *Daemon) ready(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	m := d.manager
	d.mu.Unlock()
	select {
	case <-m.Ready():
	default:
		http.Error(w, "storage levels are recovering", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := d.storage.Index(ctx); err != nil {
		http.Error(w, "Storage API unreachable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("OK\n"))
}

// serve listens on addr and serves h until the server is shut down.
func (s *servers) serve(ctx context.Context, d *Daemon, name, addr string, h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	s.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("listener failed", "listener", name, "addr", addr, "error", err)
		}
	})
	d.log.Info("listening", "listener", name, "addr", ln.Addr().String())
	return srv, nil
}

func (s *servers) stopIntake(ctx context.Context) { shutdownAll(ctx, s.intake) }

// stopRest shuts the remaining listeners down and waits for every serving goroutine.
func (s *servers) stopRest(ctx context.Context) {
	shutdownAll(ctx, s.rest)
	s.wg.Wait()
}

func shutdownAll(ctx context.Context, list []*http.Server) {
	for _, srv := range list {
		_ = srv.Shutdown(ctx)
	}
}
