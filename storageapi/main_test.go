package storageapi_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const masterToken = "test-master-token"

// startEmulator serves a fresh emulator on a real listener until the test ends.
func startEmulator(t *testing.T, adjust ...func(*emulator.Config)) (*emulator.Emulator, string) {
	t.Helper()
	s := emulatortest.Start(t, append([]func(*emulator.Config){func(c *emulator.Config) {
		c.MasterToken, c.JobDelay = masterToken, 20*time.Millisecond
	}}, adjust...)...)
	return s.Emulator, s.URL
}

// testConfig is a client config with fast retries and polls.
func testConfig(url, token string) storageapi.Config {
	return (&emulatortest.Server{URL: url}).Config(token)
}

// newClient builds a client with its own transport, closed when the test ends.
func newClient(t *testing.T, cfg storageapi.Config, opts ...storageapi.Option) *storageapi.Client {
	t.Helper()
	return emulatortest.Client(t, cfg, opts...)
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
