package streamapi_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/intake"
	"github.com/kbridge/kbridge/bridge/streamapi"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

const (
	masterToken = "test-master-token"
	readToken   = "test-read-token"
	apiURL      = "https://stream.kbridge.test"
	intakeURL   = "https://stream-in.kbridge.test"
)

// env is an emulator, a running sink manager and the Stream API over real HTTP.
type env struct {
	t         testing.TB
	emURL     string
	emDir     string
	m         *sink.Manager
	url       string // the API's base URL
	intake    *intake.Server
	intakeURL string // the intake's base URL, when started
	vars      map[string]string
	apiCfg    streamapi.Config
	apiDeps   streamapi.Deps
}

func startEmulator(t testing.TB) (string, string) {
	t.Helper()
	s := emulatortest.Start(t, func(c *emulator.Config) {
		c.MasterToken = masterToken
		c.Tokens = []emulator.TokenConfig{{Token: readToken, Description: "read only"}}
	})
	return s.URL, s.DataDir
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// serveUntilCleanup runs fn until the test ends, then cancels it and waits.
func serveUntilCleanup(t testing.TB, what string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := fn(ctx); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func storageClient(t testing.TB, url string) *storageapi.Client {
	t.Helper()
	return emulatortest.Client(t, (&emulatortest.Server{URL: url}).Config(masterToken))
}

// newEnv starts everything; withIntake also serves the intake, wired as the daemon wires it.
// adjust, when given, changes the API's config and deps before it starts.
func newEnv(t testing.TB, withIntake bool, adjust ...func(*streamapi.Config, *streamapi.Deps)) *env {
	t.Helper()
	e := &env{t: t}
	e.emURL, e.emDir = startEmulator(t)
	client := storageClient(t, e.emURL)
	cfg := sink.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Staging.MinInterval, cfg.Target.MinInterval = 0, 0
	m, err := sink.New(cfg, sink.Deps{Storage: client})
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	e.m = m
	serveUntilCleanup(t, "sink manager", func(ctx context.Context) error {
		if err := m.Run(ctx); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("manager not ready")
	}
	deps := streamapi.Deps{Manager: m, Tokens: streamapi.StorageTokens(client), DataDir: t.TempDir()}
	acfg := streamapi.DefaultConfig()
	acfg.PublicURL, acfg.IntakeURL = apiURL, intakeURL
	if withIntake {
		ln := listen(t)
		e.intakeURL = "http://" + ln.Addr().String()
		icfg := intake.DefaultConfig()
		icfg.PublicURL = e.intakeURL
		acfg.IntakeURL = e.intakeURL
		if e.intake, err = intake.New(icfg, intake.Deps{Sink: m}); err != nil {
			t.Fatal(err)
		}
		deps.OnChange = e.intake.Refresh
		serveUntilCleanup(t, "intake", func(ctx context.Context) error { return e.intake.Serve(ctx, ln) })
	}
	for _, a := range adjust {
		a(&acfg, &deps)
	}
	e.apiCfg, e.apiDeps = acfg, deps
	e.startAPI()
	return e
}

// startAPI serves a new Stream API server over the same manager and data directory, as a
// restarted process would; e.url points at it from then on.
func (e *env) startAPI() {
	e.t.Helper()
	srv, err := streamapi.New(e.apiCfg, e.apiDeps)
	if err != nil {
		e.t.Fatalf("new api: %v", err)
	}
	e.url, _ = emulatortest.Serve(e.t, "api", srv.Serve)
}
