package intake_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/intake"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

const masterToken = "test-master-token"

// startEmulator serves a Storage API emulator until the test ends and returns its URL.
func startEmulator(t testing.TB) string {
	t.Helper()
	return emulatortest.Start(t, func(c *emulator.Config) { c.MasterToken = masterToken }).URL
}

func newStorageClient(t testing.TB, url string) *storageapi.Client {
	t.Helper()
	return emulatortest.Client(t, (&emulatortest.Server{URL: url}).Config(masterToken))
}

// newManager builds a Manager against a fresh emulator; run starts it until the test ends.
func newManager(t testing.TB, run bool) *sink.Manager {
	return newManagerWith(t, run, sink.Deps{})
}

// newManagerWith is newManager with deps (the storage client of a fresh emulator unless set).
func newManagerWith(t testing.TB, run bool, deps sink.Deps) *sink.Manager {
	t.Helper()
	cfg := sink.DefaultConfig()
	cfg.DataDir = t.TempDir()
	if deps.Storage == nil {
		deps.Storage = newStorageClient(t, startEmulator(t))
	}
	m, err := sink.New(cfg, deps)
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	if !run {
		t.Cleanup(func() { _ = m.Close(context.Background()) })
		return m
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Run(ctx); err != nil {
			t.Errorf("run manager: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("manager not ready")
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := m.Close(cctx); err != nil {
			t.Errorf("close manager: %v", err)
		}
		cancel()
		wg.Wait()
	})
	return m
}

// serve runs an intake server for m on a loopback listener until the test ends and returns
// its base URL and the server.
func serve(t testing.TB, m intake.Sink, adjust ...func(*intake.Config)) (string, *intake.Server) {
	t.Helper()
	cfg := intake.DefaultConfig()
	for _, fn := range adjust {
		fn(&cfg)
	}
	srv, err := intake.New(cfg, intake.Deps{Sink: m})
	if err != nil {
		t.Fatalf("new intake: %v", err)
	}
	url, _ := emulatortest.Serve(t, "intake", srv.Serve)
	return url, srv
}
