package sink_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/sink/retry"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

func TestMain(m *testing.M) {
	if os.Getenv(writerEnv) != "" {
		os.Exit(writerProcess())
	}
	goleak.VerifyTestMain(m)
}

const masterToken = "test-master-token"

var (
	sourceKey = sink.SourceKey{ProjectID: 1, BranchID: 1, SourceID: "events"}
	start     = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// testEmulator is an emulator served over HTTP until the test ends.
type testEmulator struct {
	*emulatortest.Server
	em  *emulator.Emulator
	url string
}

func startEmulator(t testing.TB) *testEmulator {
	t.Helper()
	s := emulatortest.Start(t, func(c *emulator.Config) { c.MasterToken = masterToken })
	return &testEmulator{Server: s, em: s.Emulator, url: s.URL}
}

// client returns a Storage API client that does not retry by itself, so the sink's own
// retries are what the fault tests exercise.
func newClient(t testing.TB, url string) *storageapi.Client {
	t.Helper()
	cfg := (&emulatortest.Server{URL: url}).Config(masterToken)
	cfg.Retry.MaxAttempts = 1
	return emulatortest.Client(t, cfg)
}

// rows reads a table's rows from the emulator, keyed by the first column; a repeated key
// gets a #dup suffix.
func (e *testEmulator) rows(t testing.TB, tableID string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range e.Rows(t, tableID) {
		if _, dup := out[r[0]]; dup {
			out[r[0]+"#dup"+strconv.Itoa(len(out))] = r
			continue
		}
		out[r[0]] = r
	}
	return out
}

// testConfig has no minimum intervals and a fast backoff.
func testConfig(dir string) sink.Config {
	cfg := sink.DefaultConfig()
	cfg.DataDir = dir
	cfg.Staging.MinInterval = 0
	cfg.Target.MinInterval = 0
	cfg.Target.ImportTimeout = 10 * time.Second
	cfg.Target.Backoff = retry.Backoff{Base: time.Second, Max: 4 * time.Second, Multiplier: 2}
	return cfg
}

type env struct {
	t   testing.TB
	em  *testEmulator
	clk *clock.Fake
	dir string
}

func newEnv(t testing.TB) *env {
	return &env{t: t, em: startEmulator(t), clk: clock.NewFake(time.Now()), dir: t.TempDir()}
}

// manager builds and runs a Manager over the env's directory until the test ends.
func (e *env) manager(deps sink.Deps, adjust ...func(*sink.Config)) *sink.Manager {
	e.t.Helper()
	cfg := testConfig(e.dir)
	for _, fn := range adjust {
		fn(&cfg)
	}
	deps.Storage = newClient(e.t, e.em.url)
	if deps.Clock == nil {
		deps.Clock = e.clk
	}
	m, err := sink.New(cfg, deps)
	if err != nil {
		e.t.Fatalf("new manager: %v", err)
	}
	run(e.t, m)
	return m
}

// run runs m until the test ends, then closes it and checks Run's result.
func run(t testing.TB, m *sink.Manager) {
	t.Cleanup(runUntil(t, m))
}

// runUntil runs m and returns the function that closes it and waits for Run.
func runUntil(t testing.TB, m *sink.Manager) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("manager not ready")
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ccancel()
			if err := m.Close(cctx); err != nil {
				t.Errorf("close: %v", err)
			}
			cancel()
			wg.Wait()
		})
	}
}

var columns = []mapping.Column{
	{Type: mapping.KindPath, Name: "id", Path: "id", RawString: true},
	{Type: mapping.KindPath, Name: "name", Path: "name", RawString: true},
	{Type: mapping.KindPath, Name: "value", Path: "nested.value"},
}

func keyed(cols []mapping.Column) []mapping.Column {
	out := append([]mapping.Column(nil), cols...)
	out[0].PrimaryKey = true
	return out
}

// define creates the source and one sink per table id with the settings patch.
func define(t testing.TB, m *sink.Manager, cols []mapping.Column, settings sink.Patch, tables ...string) {
	t.Helper()
	if err := m.PutSource(sink.Source{Key: sourceKey, Type: "kafka", Name: "events"}); err != nil {
		t.Fatal(err)
	}
	for i, table := range tables {
		def := sink.Sink{Key: sink.SinkKey{SourceKey: sourceKey, SinkID: "sink-" + strconv.Itoa(i)},
			Name: "sink", TableID: table, Columns: cols, Settings: settings}
		if err := m.PutSink(def); err != nil {
			t.Fatal(err)
		}
	}
}

func sinkKey(i int) sink.SinkKey {
	return sink.SinkKey{SourceKey: sourceKey, SinkID: "sink-" + strconv.Itoa(i)}
}

// events builds n events with ids from first, positions in stream "t/0".
func events(first, n int) ([]mapping.Event, []sink.Position) {
	evs := make([]mapping.Event, n)
	pos := make([]sink.Position, n)
	for i := range evs {
		id := first + i
		evs[i] = mapping.Event{Kafka: true, Topic: "t", Offset: int64(id), ReceivedAt: start,
			Body: fmt.Appendf(nil, `{"id":"%d","name":"name \"%d\", with comma","nested":{"value":%d}}`, id, id, id*10)}
		pos[i] = sink.Position{Stream: "t/0", Offset: int64(id)}
	}
	return evs, pos
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond, advancing the fake clock by step between polls, until it holds or
// the deadline passes.
func (e *env) eventually(what string, step time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		if step > 0 {
			e.clk.Advance(step)
		}
		time.Sleep(2 * time.Millisecond) // a poll interval, not a synchronisation
	}
}

// sync countTrigger 1: every batch is synced at once, no clock needed at the local level.
var syncEachBatch = sink.Patch{"storage.level.local.encoding.sync.countTrigger": 1}

func patch(p sink.Patch, kv ...any) sink.Patch {
	out := sink.Patch{}
	for k, v := range p {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out["storage.level."+kv[i].(string)] = kv[i+1]
	}
	return out
}
