// Package sinktest runs a sink.Manager for the tests of packages that write through it.
package sinktest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi"
)

// New builds a Manager over a temporary data directory and the storage client, with no
// minimum upload and import intervals; adjust changes the config first. Put definitions into
// it, then Start it.
func New(t testing.TB, storage *storageapi.Client, adjust ...func(*sink.Config)) *sink.Manager {
	t.Helper()
	return NewWith(t, sink.Deps{Storage: storage}, adjust...)
}

// NewWith is New with the manager's dependencies (deps.Storage set), such as a file system
// that injects faults.
func NewWith(t testing.TB, deps sink.Deps, adjust ...func(*sink.Config)) *sink.Manager {
	t.Helper()
	cfg := sink.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Staging.MinInterval, cfg.Target.MinInterval = 0, 0
	for _, fn := range adjust {
		fn(&cfg)
	}
	m, err := sink.New(cfg, deps)
	if err != nil {
		t.Fatalf("new sink manager: %v", err)
	}
	return m
}

// Start runs m until the test ends (then closes it) and returns once it is ready.
func Start(t testing.TB, m *sink.Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Run(ctx); err != nil {
			t.Errorf("sink manager: %v", err)
		}
	})
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = m.Close(cctx)
		cancel()
		wg.Wait()
	})
	select {
	case <-m.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("sink manager not ready")
	}
}
