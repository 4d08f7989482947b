package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/durable"
)

// Manager owns the definitions and one pipeline per sink.
//
// Lifecycle: New loads definitions and recovers every sink's files from disk (no goroutine).
// Run starts the pipelines and blocks until ctx ends or Close is called, then shuts down in
// this order: (1) writes are refused with ErrClosed, (2) every sink's current slice gets its
// final sync and is persisted as uploading, (3) the background levels are cancelled (an upload
// in flight is redone after restart; an import job's id is already persisted and is re-polled),
// (4) every goroutine is waited for, (5) waiting Write handles return ErrClosed.
type Manager struct {
	cfg      Config
	clk      clock.Clock
	fs       local.FS
	log      *slog.Logger
	met      *metrics
	storage  *storageapi.Client // the master token's client, of the default branch
	progress broadcast
	memory   *memoryGuard
	ring     *durable.Keyring // seals definitions and file records; nil: clear text
	defs     definitionStore
	shared   *SharedDefinitions // nil: definitions in the data directory
	bg       sync.WaitGroup     // applies shared changes while Run runs

	branchMu sync.Mutex
	branches map[int64]*storageapi.Client // by branch id, checked to exist

	mu        sync.RWMutex
	sources   map[SourceKey]*sourceState
	ctx       context.Context // the Run context, nil before Run
	cancel    context.CancelCauseFunc
	closing   bool
	closeOnce sync.Once
	closed    chan struct{} // closed when shut down
	runDone   chan struct{}
	ready     chan struct{} // closed when Run has started every pipeline
	lock      *os.File      // the data directory's lock, held until shut down
}

type sourceState struct {
	rec     sourceRecord
	version int64                // rec's version in the definitions store
	pipes   map[string]*pipeline // by sink id, deleted sinks included until drained
}

// New validates the configuration, loads the definitions and recovers the sinks' state.
func New(cfg Config, deps Deps) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	deps, err := deps.withDefaults()
	if err != nil {
		return nil, err
	}
	met, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	ring, err := cfg.Encryption.Keyring()
	if err != nil {
		return nil, fmt.Errorf("encryption: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		lock: lock, ring: ring, cfg: cfg, clk: deps.Clock, fs: deps.FS, log: deps.Logger.With("component", "sink"), met: met,
		storage: deps.Storage, branches: map[int64]*storageapi.Client{},
		memory: newMemoryGuard(), sources: map[SourceKey]*sourceState{}, closed: make(chan struct{}), runDone: make(chan struct{}), ready: make(chan struct{}),
		defs: localDefinitions{dataDir: cfg.DataDir, ring: ring},
	}
	if deps.Shared != nil {
		deps.Shared.ring = ring
		m.defs, m.shared = deps.Shared, deps.Shared
	}
	if err := m.load(deps); err != nil {
		lock.Close()
		return nil, err
	}
	return m, nil
}

func (m *Manager) load(deps Deps) error {
	if deps.Registerer != nil {
		if err := deps.Registerer.Register(oldestCollector{m}); err != nil {
			return err
		}
	}
	recs, err := m.defs.load()
	if err != nil {
		return err
	}
	for _, stored := range recs {
		rec := stored.rec
		ss := &sourceState{rec: *rec, version: stored.version, pipes: map[string]*pipeline{}}
		for _, def := range rec.Sinks {
			mp, err := def.validate(m.cfg.Mapping, mapping.CompileStored)
			if err != nil {
				return err
			}
			if err := m.addPipeline(ss, def, mp); err != nil {
				return err
			}
		}
		m.sources[rec.Source.Key] = ss
	}
	return nil
}

// addPipeline starts the pipeline of def, whose mapping is mp.
func (m *Manager) addPipeline(ss *sourceState, def Sink, mp *mapping.Mapping) error {
	p, err := newPipeline(m, &ss.rec.Source, def, mp)
	if err != nil {
		return err
	}
	ss.pipes[def.Key.SinkID] = p
	if m.ctx != nil {
		p.start(m.ctx)
	}
	return nil
}

// Run runs every sink's levels until ctx ends or Close is called; see Manager for the
// shutdown order. It returns nil after a Close, else the cause of ctx's end.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.ctx != nil {
		m.mu.Unlock()
		return errors.New("sink manager: Run called twice")
	}
	m.ctx, m.cancel = context.WithCancelCause(ctx)
	for _, ss := range m.sources {
		for _, p := range ss.pipes {
			p.start(m.ctx)
		}
	}
	runCtx := m.ctx
	if m.shared != nil {
		m.bg.Go(func() { m.followShared(runCtx) })
	}
	close(m.ready)
	m.mu.Unlock()
	defer close(m.runDone)
	<-runCtx.Done()
	m.shutdown(context.Cause(runCtx))
	if errors.Is(context.Cause(runCtx), ErrClosed) {
		return nil
	}
	return context.Cause(runCtx)
}

// Close stops the manager (see Manager for the order) and waits until it stopped or ctx ends.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	running := m.ctx != nil
	if running {
		m.cancel(ErrClosed)
	}
	m.mu.Unlock()
	if !running {
		m.shutdown(ErrClosed)
		return nil
	}
	select {
	case <-m.runDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close sink manager: %w", context.Cause(ctx))
	}
}

func (m *Manager) shutdown(cause error) {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closing = true
		pipes := m.allPipelines()
		m.mu.Unlock()
		m.log.Info("stopping", "cause", cause)
		for _, p := range pipes {
			p.closeWriting()
		}
		if m.cancel != nil {
			m.cancel(cause)
		}
		m.bg.Wait() // no shared change is applied from here on
		for _, p := range pipes {
			p.wait()
		}
		close(m.closed)
		m.progress.notify()
		m.lock.Close() // the directory is free for the next process
	})
}

func (m *Manager) allPipelines() []*pipeline {
	var out []*pipeline
	for _, ss := range m.sources {
		for _, p := range ss.pipes {
			out = append(out, p)
		}
	}
	return out
}

// Ready is closed once Run has opened a slice for every sink; writes before that fail with
// ErrNotReady.
func (m *Manager) Ready() <-chan struct{} { return m.ready }

// Progress returns a channel closed at the next change of any level of any sink (a sync, an
// upload, an import); callers tracking Watermark wait on it instead of polling.
func (m *Manager) Progress() <-chan struct{} { return m.progress.changed() }
