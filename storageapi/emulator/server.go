package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Emulator is a local Storage API. Create it with New, serve it with Serve (or mount
// Handler and call Run), inject faults through the Go API or POST /emulator/faults.
type Emulator struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	mu           sync.Mutex // guards st, blocks and the files under DataDir
	st           *state
	configTokens map[string]*token            // tokens from Config, by secret
	blocks       map[string]map[string][]byte // uncommitted Azure blocks by blob key, then block id
	keys         map[string]*keyIndex         // primary key indexes by table id, built on first upsert

	wake     chan struct{} // a job was queued
	stopping chan struct{} // closed on shutdown; releases hanging requests
	stopOnce sync.Once

	faults  faults
	started time.Time // when the emulator was created: the default branch's creation time
}

// New opens (or creates) the state in cfg.DataDir. It starts nothing.
func New(cfg Config) (*Emulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("emulator data dir: %w", err)
	}
	st, err := loadState(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if st.SASSecret == "" {
		st.SASSecret = randomHex(32)
		if err := st.save(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Emulator{
		cfg:          cfg,
		log:          log,
		st:           st,
		configTokens: map[string]*token{},
		blocks:       map[string]map[string][]byte{},
		wake:         make(chan struct{}, 1),
		stopping:     make(chan struct{}),
		faults:       newFaults(),
		started:      now(),
	}
	e.addConfigTokens()
	e.mux = e.routes()
	return e, nil
}

func (e *Emulator) addConfigTokens() {
	created := time.Now()
	e.configTokens[e.cfg.MasterToken] = &token{ID: "1", Secret: e.cfg.MasterToken, Description: "master token",
		Created: created, IsMaster: true, CanManageBuckets: true, CanReadAllFileUploads: true}
	for i, t := range e.cfg.Tokens {
		e.configTokens[t.Token] = &token{ID: fmt.Sprint(i + 2), Secret: t.Token, Description: t.Description, Created: created,
			CanManageBuckets: t.CanManageBuckets, CanReadAllFileUploads: t.CanReadAllFileUploads, BucketPermissions: t.BucketPermissions}
	}
}

// Handler serves the Storage API, the blob endpoint and the admin endpoints.
func (e *Emulator) Handler() http.Handler { return e.mux }

// Serve serves HTTP on ln and runs the job worker until ctx ends, then shuts down
// gracefully: hanging requests are released, in-flight requests get up to 5 s, and the
// worker finishes its current step. It closes ln.
func (e *Emulator) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: e.mux, ReadHeaderTimeout: 10 * time.Second}
	workerCtx, stopWorker := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.Run(workerCtx) })
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.Serve(ln) })
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	e.release()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		err = errors.Join(err, fmt.Errorf("emulator shutdown: %w", serr))
	}
	stopWorker()
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("emulator serve: %w", err)
	}
	return nil
}

// release ends every hanging request; called once on shutdown.
func (e *Emulator) release() { e.stopOnce.Do(func() { close(e.stopping) }) }

// Close releases hanging requests. Use it when serving Handler yourself (e.g. with
// httptest.Server) before closing the server.
func (e *Emulator) Close() { e.release() }

// baseURL is the public base URL for a request.
func (e *Emulator) baseURL(r *http.Request) string {
	if e.cfg.PublicURL != "" {
		return strings.TrimRight(e.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// saveLocked persists the state; e.mu must be held.
func (e *Emulator) saveLocked() error { return e.st.save(e.cfg.DataDir) }

// tokenBySecret finds a valid token; e.mu must be held.
func (e *Emulator) tokenBySecret(secret string) *token {
	if t, ok := e.configTokens[secret]; ok {
		return t
	}
	for _, t := range e.st.Tokens {
		if t.Secret == secret && (t.Expires == nil || time.Now().Before(*t.Expires)) {
			return t
		}
	}
	return nil
}
