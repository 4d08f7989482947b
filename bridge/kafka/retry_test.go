package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// refusingWriter refuses the first refusals writes with back pressure, as a full disk does,
// then hands writes to the sinks.
type refusingWriter struct {
	kafka.Writer
	refusals int64
	calls    atomic.Int64
}

func (w *refusingWriter) Write(ctx context.Context, source sink.SourceKey, events []mapping.Event, positions []sink.Position) (*sink.Write, error) {
	if w.calls.Add(1) <= w.refusals {
		return nil, &sink.BackpressureError{Err: sink.ErrDiskFull, Reason: "test"}
	}
	return w.Writer.Write(ctx, source, events, positions)
}

// max.retries bounds the retries of a refused batch: within it the records land, past it the
// pipeline fails naming the key; retry.backoff.ms sets the first wait.
func TestMaxRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1, "payments": 1}, keyedColumns)
	e.produceRecords(10, "orders", "payments")
	// Each run reads its own topic: records the sinks hold already would be skipped.
	run := func(topic string, refusals int64, keys ...string) (*refusingWriter, error) {
		w := &refusingWriter{Writer: e.manager, refusals: refusals}
		name := "from-" + topic
		p := pipeline(t, append([]string{"name", name, "topics", topic}, keys...)...)
		c, err := kafka.NewConsumer(p, kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()},
			Source: source, Writer: w, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		for ctx.Err() == nil && len(e.committed("connect-" + name)[topic]) == 0 {
			select {
			case err := <-done:
				return w, err
			case <-time.After(50 * time.Millisecond):
			}
		}
		cancel()
		return w, <-done
	}

	start := time.Now()
	w, err := run("orders", 3, "max.retries", "3", "retry.backoff.ms", "10")
	if err != nil {
		t.Fatalf("3 refusals within max.retries=3: %v", err)
	}
	if got := w.calls.Load(); got != 4 {
		t.Errorf("%d writes, want 3 refused and 1 taken", got)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %s: retry.backoff.ms=10 not used", took)
	}
	if rows := e.rows("in.c-kafka.events"); len(rows) != 5 {
		t.Errorf("%d rows, want 5", len(rows))
	}

	w, err = run("payments", 1000, "max.retries", "2", "retry.backoff.ms", "10")
	if err == nil || !strings.Contains(err.Error(), "max.retries=2") || !errors.Is(err, sink.ErrDiskFull) {
		t.Fatalf("Run past max.retries: %v, want an error naming max.retries=2 and the refusal", err)
	}
	if got := w.calls.Load(); got != 3 {
		t.Errorf("%d writes, want 1 and 2 retries", got)
	}
}

// fullWriter refuses writes as a full slice buffer does, asking for a retry in an hour, until
// free is called. While full, Progress is its own channel, which free closes as the sinks'
// progress does when a sync frees the buffer.
type fullWriter struct {
	kafka.Writer
	mu      sync.Mutex
	full    bool
	moved   chan struct{}
	refused atomic.Int64
}

func (w *fullWriter) Write(ctx context.Context, source sink.SourceKey, events []mapping.Event, positions []sink.Position) (*sink.Write, error) {
	w.mu.Lock()
	full := w.full
	w.mu.Unlock()
	if full {
		w.refused.Add(1)
		return nil, &sink.BackpressureError{Err: sink.ErrNotReady, Reason: "test: buffer full", RetryAfter: time.Hour}
	}
	return w.Writer.Write(ctx, source, events, positions)
}

func (w *fullWriter) Progress() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.full {
		return w.moved
	}
	return w.Writer.Progress()
}

func (w *fullWriter) free() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.full = false
	close(w.moved)
}

// A refused batch is written again as soon as the sinks signal progress, not when the
// refusal's RetryAfter (an hour here) or the retry backoff (an hour) has passed: the records
// reach the table and their offsets are committed within the test's limit.
func TestBackpressureResumesWhenFreed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 2}, keyedColumns)
	counts := e.produceRecords(20, "orders")
	w := &fullWriter{Writer: e.manager, full: true, moved: make(chan struct{})}
	c, err := kafka.NewConsumer(pipeline(t, "topics", "orders", "retry.backoff.ms", "3600000"), kafka.Deps{
		Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()}, Source: source, Writer: w, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	waitFor(t, 30*time.Second, "a refused write", func() bool { return w.refused.Load() > 0 })
	w.free()
	e.waitCommitted(counts, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := w.refused.Load(); got != 1 {
		t.Errorf("%d refused writes, want 1: one retry after the progress signal", got)
	}
}
