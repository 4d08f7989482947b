package storageapi_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const masterToken = "test-master-token"

// startEmulator serves a fresh emulator on a real listener until the test ends.
func startEmulator(t *testing.T, adjust ...func(*emulator.Config)) (*emulator.Emulator, string) {
	t.Helper()
	cfg := emulator.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MasterToken = masterToken
	cfg.JobDelay = 20 * time.Millisecond
	for _, fn := range adjust {
		fn(&cfg)
	}
	return serveEmulator(t, cfg)
}

func serveEmulator(t *testing.T, cfg emulator.Config) (*emulator.Emulator, string) {
	t.Helper()
	em, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("new emulator: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := em.Serve(ctx, ln); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return em, "http://" + ln.Addr().String()
}

// testConfig is a client config with fast retries and polls.
func testConfig(url, token string) storageapi.Config {
	cfg := storageapi.DefaultConfig()
	cfg.URL, cfg.Token = url, token
	cfg.RequestTimeout = 5 * time.Second
	cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = time.Millisecond, 10*time.Millisecond
	cfg.JobPoll.InitialInterval, cfg.JobPoll.MaxInterval = 5*time.Millisecond, 20*time.Millisecond
	return cfg
}

// newClient builds a client with its own transport, closed when the test ends.
func newClient(t *testing.T, cfg storageapi.Config, opts ...storageapi.Option) *storageapi.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := storageapi.New(cfg, append([]storageapi.Option{storageapi.WithHTTPClient(&http.Client{Transport: tr})}, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// setupTable creates bucket in.c-shop and a table with the columns and primary key.
func setupTable(t *testing.T, c *storageapi.Client, name string, columns, pk []string) *storageapi.Table {
	t.Helper()
	ctx := testContext(t)
	if _, err := c.GetBucket(ctx, "in.c-shop"); err != nil {
		if _, err := c.CreateBucket(ctx, storageapi.CreateBucketRequest{Stage: "in", Name: "shop"}); err != nil {
			t.Fatalf("create bucket: %v", err)
		}
	}
	tbl, err := c.CreateTable(ctx, "in.c-shop", storageapi.CreateTableRequest{Name: name, Columns: columns, PrimaryKey: pk})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	return tbl
}

// recordingSleep records requested waits and returns at once.
type recordingSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *recordingSleep) recorded() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}
