package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/local"
)

// Writer is where a pipeline's records go: the source's sinks. *sink.Manager implements it.
// Every method may be called concurrently.
type Writer interface {
	// Write renders events through every enabled sink of source and appends the rows; the
	// result tells which events failed and when the rest reach each level.
	Write(ctx context.Context, source sink.SourceKey, events []mapping.Event, positions []sink.Position) (*sink.Write, error)
	// Held returns, per stream, the exact offsets every enabled sink of source holds durably.
	Held(source sink.SourceKey) (sink.Offsets, error)
	// Holds reports whether every enabled sink holds the offsets rs of stream at level.
	Holds(source sink.SourceKey, stream string, rs local.Ranges, level sink.Level) bool
	// Flush waits until every row appended to the source's sinks so far went through a sync.
	Flush(ctx context.Context, source sink.SourceKey) error
	// Recovered returns, per partition ("topic/partition"), the highest offset every sink holds.
	Recovered(source sink.SourceKey) (map[string]int64, error)
	// Progress returns a channel closed at the next change of any level.
	Progress() <-chan struct{}
}

// Deps are what a Consumer uses from outside.
type Deps struct {
	Client  ClientConfig
	Source  sink.SourceKey // the pipeline's source, with its project and branch
	Writer  Writer
	Logger  *slog.Logger
	Metrics *Metrics // optional
	// LagInterval is how often consumer lag is measured; DefaultLagInterval when zero.
	LagInterval time.Duration
	// Reread holds, per stream ("topic/partition"), an offset up to which records are written
	// even when already on local disk: the group's offsets were moved back to read them again.
	// Without it, records the sinks already hold are skipped (see Writer.Held).
	Reread map[string]int64
	// Drain, when started, stops the reading while the consumer keeps committing what reaches
	// the commit level (see Drain); nil: reading stops only with the consumer.
	Drain *Drain
	// Tasks are the ids of the tasks this consumer runs, each below Pipeline.TasksMax; nil
	// runs them all. In distributed mode each replica runs its share of a connector's tasks,
	// and they all meet in the one consumer group.
	Tasks []int
}

// State is a consumer's state, as Kafka Connect names task states.
type State string

const (
	StateRunning State = "RUNNING"
	StateFailed  State = "FAILED"
	StateStopped State = "STOPPED"
)

// Consumer runs one pipeline: Pipeline.TasksMax members of its consumer group, or those of
// Deps.Tasks.
type Consumer struct {
	p    Pipeline
	deps Deps
	log  *slog.Logger

	mu    sync.Mutex
	state State
	err   error
	tasks []TaskState // by task id; nil while they all share state

	records, deadLettered atomic.Int64
	topics                activeTopics
}

// NewConsumer checks the pipeline and returns a consumer; it starts nothing.
func NewConsumer(p Pipeline, deps Deps) (*Consumer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := deps.Client.Validate(); err != nil {
		return nil, err
	}
	if deps.Writer == nil {
		return nil, errors.New("kafka consumer: no writer")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	if deps.LagInterval <= 0 {
		deps.LagInterval = DefaultLagInterval
	}
	deps.Tasks = slices.Clone(deps.Tasks)
	if deps.Tasks == nil {
		for id := range p.TasksMax {
			deps.Tasks = append(deps.Tasks, id)
		}
	}
	for _, id := range deps.Tasks {
		if id < 0 || id >= p.TasksMax {
			return nil, fmt.Errorf("kafka consumer %s: task %d is not below tasks.max %d", p.Name, id, p.TasksMax)
		}
	}
	w, err := p.Writer(deps.Writer, deps.Source)
	if err != nil {
		return nil, err
	}
	deps.Writer = w
	deps.Metrics.Failures.WithLabelValues(p.Name) // the series exists from the start, at 0
	return &Consumer{p: p, deps: deps, log: deps.Logger.With("component", "kafka", "pipeline", p.Name), state: StateStopped}, nil
}

// Run consumes until ctx ends (it then returns nil) or a task fails: a record rejected under
// errors.tolerance=none, a write that did not reach local disk, an unusable cluster. The
// failure is also kept as the consumer's state. Offsets of what is done are committed before
// Run returns. While it runs, the pipeline's consumer lag is measured every Deps.LagInterval.
func (c *Consumer) Run(ctx context.Context) error {
	c.setState(StateRunning, nil, nil)
	ctx, cancel := context.WithCancelCause(ctx)
	var lag sync.WaitGroup
	defer func() { cancel(nil); lag.Wait() }() // the lag goroutine removes its series as it ends
	if l, err := newLagReporter(c); err != nil {
		c.log.Warn("consumer lag not measured", "error", err)
	} else {
		lag.Go(func() { l.run(ctx, c.deps.LagInterval) })
	}
	errs := make([]error, c.p.TasksMax)
	failed := -1 // the task whose failure stopped the others
	var failOnce sync.Once
	var wg sync.WaitGroup
	for _, id := range c.deps.Tasks {
		wg.Go(func() {
			err := c.runTask(ctx, id)
			if err != nil {
				failOnce.Do(func() { failed = id; cancel(err) })
			}
			errs[id] = err
		})
	}
	wg.Wait()
	if failed >= 0 {
		first := errs[failed]
		c.setState(StateFailed, first, failedTasks(failed, errs, c.deps.Tasks))
		c.deps.Metrics.Failures.WithLabelValues(c.p.Name).Inc()
		c.log.Error("pipeline failed", "task", failed, "error", first)
		return first
	}
	c.setState(StateStopped, nil, nil)
	return nil
}

// runTask runs task id. A task whose batch did not become durable (a failed write or fsync:
// a full disk, an I/O error) is started again after a backoff: it rejoins the group, reads
// the sinks' ledger and re-reads from the committed offsets, so the pipeline keeps running
// when the cause passes. With max.retries set, more consecutive failures than that fail it.
func (c *Consumer) runTask(ctx context.Context, id int) error {
	policy := backoff.NewExponentialBackOff(backoff.WithInitialInterval(c.p.RetryBackoff),
		backoff.WithMaxInterval(max(30*time.Second, c.p.RetryBackoff)), backoff.WithMaxElapsedTime(0))
	for failures := 0; ; {
		// A task that starts once the drain has: no client, which would join the group and
		// take partitions from the draining members, whose batches would then be read again.
		if !c.deps.Drain.enter() {
			<-ctx.Done()
			return nil
		}
		t, err := newTask(c, id)
		if err != nil {
			c.deps.Drain.leave()
			return err
		}
		started := time.Now()
		err = t.run(ctx)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		if time.Since(started) > time.Minute {
			failures = 0
			policy.Reset()
		}
		if failures++; c.p.MaxRetries >= 0 && failures > c.p.MaxRetries {
			return fmt.Errorf("task %d failed %d times in a row (max.retries=%d): %w", id, failures, c.p.MaxRetries, err)
		}
		wait := policy.NextBackOff()
		c.deps.Metrics.TaskRestarts.WithLabelValues(c.p.Name).Inc()
		c.log.Warn("task restarting to read again what is not durable", "task", id, "retryIn", wait, "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// State returns the consumer's state and, when FAILED, why.
func (c *Consumer) State() (State, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.err
}

// TaskState is one task's state and, when FAILED, why.
type TaskState struct {
	State State
	Err   error
}

// TaskStates returns the state of each task, by task id (0 to tasks.max-1); a task another
// consumer runs (see Deps.Tasks) has no state. A failing task stops them all: it carries its
// own error, and so does a task that failed on its own at the same time; the others carry an
// error naming the task that stopped them.
func (c *Consumer) TaskStates() []TaskState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tasks != nil {
		return slices.Clone(c.tasks)
	}
	out := make([]TaskState, c.p.TasksMax)
	for _, id := range c.deps.Tasks {
		out[id].State = c.state
	}
	return out
}

// Tasks returns the ids of the tasks the consumer runs.
func (c *Consumer) Tasks() []int { return slices.Clone(c.deps.Tasks) }

// setState sets the consumer's state and its tasks'; nil tasks all share state.
func (c *Consumer) setState(s State, err error, tasks []TaskState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.err, c.tasks = s, err, tasks
}

// failedTasks are the task states after task failed: errs are what each task of ids returned,
// by task id.
func failedTasks(failed int, errs []error, ids []int) []TaskState {
	out := make([]TaskState, len(errs))
	for _, id := range ids {
		err := errs[id]
		if id != failed && (err == nil || errors.Is(err, errs[failed])) {
			err = fmt.Errorf("stopped because task %d failed: %w", failed, errs[failed])
		}
		out[id] = TaskState{State: StateFailed, Err: err}
	}
	return out
}

// Counts returns how many records were consumed and dead-lettered since the consumer started.
func (c *Consumer) Counts() (records, deadLettered int64) {
	return c.records.Load(), c.deadLettered.Load()
}

// errRejected is a record the pipeline may not skip (errors.tolerance=none).
type errRejected struct {
	topic     string
	partition int32
	offset    int64
	err       error
}

func (e *errRejected) Error() string {
	return fmt.Sprintf("record %s/%d@%d rejected (errors.tolerance=none): %v", e.topic, e.partition, e.offset, e.err)
}

func (e *errRejected) Unwrap() error { return e.err }
