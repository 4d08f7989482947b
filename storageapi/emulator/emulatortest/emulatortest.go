// Package emulatortest serves the Storage API emulator to tests over real HTTP on a loopback
// port, as net/http/httptest serves handlers, and builds clients for it.
package emulatortest

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

// Token is the master token of the emulators Start serves.
const Token = "emulator-test-token"

// Server is an emulator served until the test ends.
type Server struct {
	*emulator.Emulator
	URL     string // e.g. http://127.0.0.1:41234
	DataDir string
}

// Start serves a new emulator with its state in a temporary directory, the master token Token
// and jobs that wait 5 ms; adjust changes the config first.
func Start(t testing.TB, adjust ...func(*emulator.Config)) *Server {
	t.Helper()
	cfg := emulator.DefaultConfig()
	cfg.DataDir, cfg.MasterToken, cfg.JobDelay = t.TempDir(), Token, 5*time.Millisecond
	for _, fn := range adjust {
		fn(&cfg)
	}
	em, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("new emulator: %v", err)
	}
	url, _ := Serve(t, "emulator", em.Serve)
	return &Server{Emulator: em, URL: url, DataDir: cfg.DataDir}
}

// Serve runs serve, the Serve method of one of kbridge's servers (the emulator, the intake, the
// Stream API, the Connect API), on a new loopback listener until the test ends or stop is
// called, and returns the listener's URL. stop cancels serve's context and waits for it.
func Serve(t testing.TB, what string, serve func(context.Context, net.Listener) error) (url string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := serve(ctx, ln); err != nil {
			t.Errorf("serve %s: %v", what, err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// Config returns a client config for the server and token with fast retries and job polls.
func (s *Server) Config(token string) storageapi.Config {
	cfg := storageapi.DefaultConfig()
	cfg.URL, cfg.Token = s.URL, token
	cfg.RequestTimeout = 5 * time.Second
	cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = time.Millisecond, 10*time.Millisecond
	cfg.JobPoll.InitialInterval, cfg.JobPoll.MaxInterval = 2*time.Millisecond, 20*time.Millisecond
	return cfg
}

// Client builds a client with its own transport, whose idle connections close when t ends.
func Client(t testing.TB, cfg storageapi.Config, opts ...storageapi.Option) *storageapi.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := storageapi.New(cfg, append([]storageapi.Option{storageapi.WithHTTPClient(&http.Client{Transport: tr})}, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// Rows returns a table's rows, header excluded, straight from the emulator's data directory
// (no limit, unlike data-preview); none when the table does not exist yet.
func (s *Server) Rows(t testing.TB, tableID string) [][]string {
	t.Helper()
	rows, err := emulator.ReadTableRows(s.DataDir, tableID)
	if err != nil {
		t.Fatalf("read table %s: %v", tableID, err)
	}
	return rows
}

// BranchRows is Rows of a table in a development branch.
func (s *Server) BranchRows(t testing.TB, branchID int64, tableID string) [][]string {
	t.Helper()
	return s.Rows(t, strconv.FormatInt(branchID, 10)+"/"+tableID)
}
