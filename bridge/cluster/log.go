package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errStopped is returned to writers and waiters once Run has returned.
var errStopped = errors.New("cluster log is not running")

// Log is one member's copy of the shared definitions. Get, Snapshot, Put, Delete, Ready and
// CaughtUp may be called concurrently, from any goroutine, while Run runs.
type Log struct {
	cfg      Config
	opts     []kgo.Opt
	logger   *slog.Logger
	metrics  *Metrics
	onChange func(Change)

	mu       sync.Mutex
	state    state
	next     int64         // offset after the last record, data or control, applied
	bootEnd  int64         // committed end offset found at boot; -1 until known
	advanced chan struct{} // closed and replaced whenever next moves
	waiters  map[int64]chan outcome
	started  bool

	ready chan struct{} // closed once next >= bootEnd
	done  chan struct{} // closed when Run returns
}

// outcome is what the member decided about a record a writer waits for.
type outcome struct {
	accepted bool
	version  int64 // the version after the record, or the key's version when refused
}

// New checks the config; it starts nothing. opts reach the brokers (seed brokers, TLS, SASL),
// e.g. kafka.ClientConfig.Options; a nil logger discards, nil metrics are kept unregistered.
func New(cfg Config, opts []kgo.Opt, logger *slog.Logger, metrics *Metrics) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Log{
		cfg: cfg, opts: slices.Clone(opts), logger: logger.With("component", "cluster"), metrics: metrics,
		state: state{}, bootEnd: -1, advanced: make(chan struct{}), waiters: map[int64]chan outcome{},
		ready: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// OnChange sets fn, called with every accepted change in log order, the replayed ones at boot
// included (Change.Replay). fn runs on Run's goroutine and holds up the log while it runs: it
// must not block for long and must not call Put or Delete. Set it before Run.
func (l *Log) OnChange(fn func(Change)) { l.onChange = fn }

// Run creates or checks the topic, reads it from the start and follows it until ctx ends. It
// returns nil when ctx ends, and an error naming the key when the topic is not fit.
func (l *Log) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.started {
		l.mu.Unlock()
		return errors.New("cluster log: Run called twice")
	}
	l.started = true
	l.mu.Unlock()
	defer close(l.done)
	cl, err := kgo.NewClient(append(slices.Clone(l.opts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return fmt.Errorf("cluster log: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	spec := topicSpec{name: l.cfg.Topic, key: "cluster.configTopic", replicationFactor: l.cfg.ReplicationFactor, onePartition: true}
	if err := ensureTopic(ctx, adm, spec); err != nil {
		return err
	}
	end, err := committedEnd(ctx, adm, l.cfg.Topic)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.bootEnd = end
	l.checkReadyLocked()
	l.mu.Unlock()
	l.logger.Info("reading shared definitions", "topic", l.cfg.Topic, "end", end)
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{l.cfg.Topic: {0: kgo.NewOffset().AtStart()}})
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			l.logger.Warn("fetch shared definitions", "topic", topic, "partition", p, "error", err)
		})
		fetches.EachRecord(l.applyRecord)
	}
}

// committedEnd is the partition's last stable offset: what a read_committed reader reaches.
func committedEnd(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	offsets, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("end offset of topic %q: %w", topic, err)
	}
	o, ok := offsets.Lookup(topic, 0)
	if !ok {
		return 0, fmt.Errorf("end offset of topic %q: partition 0 missing", topic)
	}
	if o.Err != nil {
		return 0, fmt.Errorf("end offset of topic %q: %w", topic, o.Err)
	}
	return o.Offset, nil
}

// applyRecord applies one record; only Run's goroutine calls it, in offset order. The
// subscriber hears of a change before the writer waiting for it is released, so a write has
// reached the subscriber when Put returns.
func (l *Log) applyRecord(r *kgo.Record) {
	var (
		w        write
		err      error
		change   Change
		accepted bool
		version  int64
	)
	data := !r.Attrs.IsControl() // commit and abort markers only move the position
	if data {
		w, err = decode(r)
	}
	l.mu.Lock()
	if data && err == nil {
		change, accepted, version = l.state.apply(w)
		l.metrics.Keys.Set(float64(len(l.state)))
	}
	replay := r.Offset < l.bootEnd
	waiter := l.waiters[r.Offset]
	delete(l.waiters, r.Offset)
	l.next = r.Offset + 1
	close(l.advanced)
	l.advanced = make(chan struct{})
	l.checkReadyLocked()
	l.mu.Unlock()
	if err != nil {
		l.logger.Warn("shared definition record refused", "offset", r.Offset, "error", err)
	}
	if data {
		l.metrics.Records.WithLabelValues(outcomeLabel(accepted)).Inc()
	}
	if accepted && l.onChange != nil {
		change.Offset, change.Replay = r.Offset, replay
		l.onChange(change)
	}
	if waiter != nil {
		waiter <- outcome{accepted: accepted, version: version}
	}
}

func (l *Log) checkReadyLocked() {
	if l.bootEnd < 0 || l.next < l.bootEnd {
		return
	}
	select {
	case <-l.ready:
	default:
		close(l.ready)
	}
}

// Ready is closed once the member has applied everything committed to the topic when Run
// started: /readyz answers 200 from then on.
func (l *Log) Ready() <-chan struct{} { return l.ready }

// CaughtUp waits until Ready is closed, ctx ends or Run returns.
func (l *Log) CaughtUp(ctx context.Context) error { return caughtUp(ctx, l.ready, l.done) }

// caughtUp waits until ready is closed (nil), ctx ends or done is closed (errStopped).
func caughtUp(ctx context.Context, ready, done <-chan struct{}) error {
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-done:
		return errStopped
	}
}

// Get returns the key's entry as this member has applied it.
func (l *Log) Get(key string) (Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.state[key]
	return e, ok
}

// Snapshot returns a copy of every entry this member has applied.
func (l *Log) Snapshot() map[string]Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.state)
}

// waitApplied waits until every record before offset end is applied.
func (l *Log) waitApplied(ctx context.Context, end int64) error {
	for {
		l.mu.Lock()
		next, advanced := l.next, l.advanced
		l.mu.Unlock()
		if next >= end {
			return nil
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-l.done:
			return errStopped
		}
	}
}

func outcomeLabel(accepted bool) string {
	if accepted {
		return "accepted"
	}
	return "refused"
}
