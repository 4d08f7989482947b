package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/local"
)

// stuckWriter takes nothing: every write blocks until its context ends, so no offset moves.
type stuckWriter struct{}

func (stuckWriter) Write(ctx context.Context, _ sink.SourceKey, _ []mapping.Event, _ []sink.Position) (*sink.Write, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (stuckWriter) Recovered(sink.SourceKey) (map[string]int64, error) { return nil, nil }
func (stuckWriter) Held(sink.SourceKey) (sink.Offsets, error)          { return nil, nil }
func (stuckWriter) Holds(sink.SourceKey, string, local.Ranges, sink.Level) bool {
	return false
}
func (stuckWriter) Flush(context.Context, sink.SourceKey) error { return nil }
func (stuckWriter) Progress() <-chan struct{}                   { return nil }

// lagSeries returns the kbridge_kafka_consumer_lag series as "pipeline topic/partition" → value.
func lagSeries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	return series(t, reg, "kbridge_kafka_consumer_lag", func(l map[string]string) string {
		return l["pipeline"] + " " + l["topic"] + "/" + l["partition"]
	})
}

// series returns the gauge or counter values of one metric, keyed by key(labels).
func series(t *testing.T, reg *prometheus.Registry, name string, key func(map[string]string) string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[key(l)] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

func waitForLag(t *testing.T, reg *prometheus.Registry, want map[string]float64) {
	t.Helper()
	var got map[string]float64
	waitFor(t, 30*time.Second, fmt.Sprintf("lag %v", want), func() bool {
		got = lagSeries(t, reg)
		return maps.Equal(got, want)
	})
}

// Lag is the distance from the committed offset to the end, or from the log start where
// nothing is committed; it follows new records and disappears when the pipeline stops.
func TestConsumerLag(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 2}, keyedColumns)
	producer := e.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(partition int32, n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: partition, Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
		}
		if err := producer.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 10)
	produce(1, 5)
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 4, LeaderEpoch: -1})
	if _, err := admin(e.client()).CommitOffsets(t.Context(), "connect-events", offsets); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	metrics := kafka.NewMetrics(reg)
	c, err := kafka.NewConsumer(pipeline(t, "topics", "orders"), kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()},
		Source: source, Writer: stuckWriter{}, Logger: slog.New(slog.DiscardHandler), Metrics: metrics, LagInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	waitForLag(t, reg, map[string]float64{"events orders/0": 6, "events orders/1": 5})
	produce(0, 3)
	waitForLag(t, reg, map[string]float64{"events orders/0": 9, "events orders/1": 5})

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := lagSeries(t, reg); len(got) != 0 {
		t.Fatalf("a stopped pipeline still reports lag: %v", got)
	}
}

// Once every record is imported and committed, every partition of the matched topics lags by 0.
func TestConsumerLagReachesZero(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 3, "payments": 1}, keyedColumns)
	const n = 200
	e.produceRecords(n, "orders", "payments")
	reg := prometheus.NewRegistry()
	c, err := kafka.NewConsumer(pipeline(t, "topics", "", "topics.regex", "^(orders|payments)$"), kafka.Deps{
		Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()}, Source: source, Writer: e.manager,
		Logger: slog.New(slog.DiscardHandler), Metrics: kafka.NewMetrics(reg), LagInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	waitForLag(t, reg, map[string]float64{"events orders/0": 0, "events orders/1": 0, "events orders/2": 0, "events payments/0": 0})
	if rows := e.rows("in.c-kafka.events"); len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
}

// failingWriter refuses every write with an error that is not back pressure.
type failingWriter struct{ stuckWriter }

func (failingWriter) Write(context.Context, sink.SourceKey, []mapping.Event, []sink.Position) (*sink.Write, error) {
	return nil, errors.New("disk gone")
}

// A pipeline that stops with an error counts one failure; its series exists from the start.
func TestPipelineFailuresCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1}, keyedColumns)
	e.produceRecords(3, "orders")
	reg := prometheus.NewRegistry()
	c, err := kafka.NewConsumer(pipeline(t, "topics", "orders"), kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()},
		Source: source, Writer: failingWriter{}, Logger: slog.New(slog.DiscardHandler), Metrics: kafka.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	failures := func() map[string]float64 {
		return series(t, reg, "kbridge_kafka_pipeline_failures_total", func(l map[string]string) string { return l["pipeline"] })
	}
	if got := failures(); !maps.Equal(got, map[string]float64{"events": 0}) {
		t.Fatalf("failures before the start: %v", got)
	}
	for range 2 {
		if err := c.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "disk gone") {
			t.Fatalf("Run: %v, want the write error", err)
		}
	}
	if got := failures(); !maps.Equal(got, map[string]float64{"events": 2}) {
		t.Fatalf("failures %v, want 2", got)
	}
}

// panickingWriter panics in user code, as a broken mapping would.
type panickingWriter struct{ stuckWriter }

func (panickingWriter) Write(context.Context, sink.SourceKey, []mapping.Event, []sink.Position) (*sink.Write, error) {
	var cells []string
	_ = cells[3] // index out of range
	return nil, nil
}

// A panic while writing a batch fails the pipeline with the panic and its stack; the process
// goes on and nothing is committed past the batch.
func TestPanicFailsThePipeline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1}, keyedColumns)
	e.produceRecords(3, "orders")
	c, err := kafka.NewConsumer(pipeline(t, "topics", "orders"), kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()},
		Source: source, Writer: panickingWriter{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(t.Context())
	var pe *sink.PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "index out of range") || !strings.Contains(string(pe.Stack), "panickingWriter") {
		t.Fatalf("Run: %v; want the panic with its stack", err)
	}
	if state, serr := c.State(); state != kafka.StateFailed || serr == nil || !strings.Contains(serr.Error(), "lag_test.go") {
		t.Fatalf("state %s, %v; want FAILED with the stack", state, serr)
	}
	if committed := e.committed("connect-events"); committed["orders"][0] != 0 {
		t.Fatalf("committed %v past a batch that panicked", committed)
	}
}

// gateWriter hands writes to the sinks while open; closed, a write waits until it opens again.
type gateWriter struct {
	kafka.Writer
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func (w *gateWriter) Write(ctx context.Context, source sink.SourceKey, events []mapping.Event, positions []sink.Position) (*sink.Write, error) {
	w.mu.Lock()
	open := w.open
	w.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return w.Writer.Write(ctx, source, events, positions)
}

func (w *gateWriter) set(open bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if open {
		close(w.open)
	} else {
		w.open = make(chan struct{})
	}
}

// Between the periodic measurements (an hour apart here), the lag of the partitions a task
// owns follows each fetch's high watermark and each commit: new records that are fetched but
// not written show as lag at once, and the lag returns to 0 when their offsets are committed.
func TestLagFollowsFetchesAndCommits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1}, keyedColumns)
	counts := e.produceRecords(10, "orders")
	reg := prometheus.NewRegistry()
	w := &gateWriter{Writer: e.manager, open: make(chan struct{})}
	w.set(true)
	c, err := kafka.NewConsumer(pipeline(t, "topics", "orders"), kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()},
		Source: source, Writer: w, Logger: slog.New(slog.DiscardHandler), Metrics: kafka.NewMetrics(reg), LagInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	e.waitCommitted(counts, 60*time.Second)
	waitForLag(t, reg, map[string]float64{"events orders/0": 0})

	w.set(false)
	e.produceRecords(5, "orders")
	waitForLag(t, reg, map[string]float64{"events orders/0": 5})
	w.set(true)
	waitForLag(t, reg, map[string]float64{"events orders/0": 0})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
