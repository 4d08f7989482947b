package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Statuses is every member's view of every member's statuses, through a second compacted
// topic, as Connect's status.storage.topic: each member publishes its own statuses (a sink's
// totals, a task's state) under "<member>/<key>" and reads everyone's. There are no versions:
// a member is the only writer of its keys, and the last record of a key is its status.
// Publish, Remove, Of, Ready and CaughtUp may be called concurrently while Run runs.
type Statuses struct {
	cfg    Config
	opts   []kgo.Opt
	logger *slog.Logger

	mu      sync.Mutex
	byKey   map[string]map[string][]byte    // key → member → status
	seen    map[string]map[string]time.Time // key → member → when its last status was written
	next    map[int32]int64                 // per partition, offset after the last record read
	bootEnd map[int32]int64                 // per partition, end offset at boot; nil until known
	client  *kgo.Client                     // while Run runs
	started bool
	read    chan struct{} // closed and replaced after each record read

	ready chan struct{}
	done  chan struct{}
}

// NewStatuses checks the config; it starts nothing.
func NewStatuses(cfg Config, opts []kgo.Opt, logger *slog.Logger) (*Statuses, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Statuses{cfg: cfg, opts: slices.Clone(opts), logger: logger.With("component", "cluster.status"),
		byKey: map[string]map[string][]byte{}, seen: map[string]map[string]time.Time{}, next: map[int32]int64{}, read: make(chan struct{}),
		ready: make(chan struct{}), done: make(chan struct{})}, nil
}

// Run creates or checks the status topic (compacted; any number of partitions), reads it from
// the start and follows it until ctx ends.
func (s *Statuses) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("cluster statuses: Run called twice")
	}
	s.started = true
	s.mu.Unlock()
	defer close(s.done)
	cl, err := kgo.NewClient(append(slices.Clone(s.opts), kgo.DefaultProduceTopic(s.cfg.StatusTopic))...)
	if err != nil {
		return fmt.Errorf("cluster statuses: kafka client: %w", err)
	}
	defer cl.Close()
	defer s.setClient(nil)
	adm := kadm.NewClient(cl)
	spec := topicSpec{name: s.cfg.StatusTopic, key: "cluster.statusTopic", replicationFactor: s.cfg.ReplicationFactor}
	if err := ensureTopic(ctx, adm, spec); err != nil {
		return err
	}
	ends, err := adm.ListEndOffsets(ctx, s.cfg.StatusTopic)
	if err != nil {
		return fmt.Errorf("end offsets of topic %q: %w", s.cfg.StatusTopic, err)
	}
	start := map[int32]kgo.Offset{}
	boot := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		boot[o.Partition] = o.Offset
		start[o.Partition] = kgo.NewOffset().AtStart()
	})
	s.mu.Lock()
	s.bootEnd = boot
	s.client = cl
	s.checkReadyLocked()
	s.mu.Unlock()
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.StatusTopic: start})
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			s.logger.Warn("fetch statuses", "topic", topic, "partition", p, "error", err)
		})
		fetches.EachRecord(s.apply)
	}
}

func (s *Statuses) setClient(cl *kgo.Client) {
	s.mu.Lock()
	s.client = cl
	s.mu.Unlock()
}

// apply records one status; a key without a '/' is not a status and is skipped.
func (s *Statuses) apply(r *kgo.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next[r.Partition] = r.Offset + 1
	close(s.read)
	s.read = make(chan struct{})
	defer s.checkReadyLocked()
	member, key, ok := strings.Cut(string(r.Key), "/")
	if !ok || member == "" || key == "" {
		return
	}
	if r.Value == nil {
		delete(s.byKey[key], member)
		delete(s.seen[key], member)
		if len(s.byKey[key]) == 0 {
			delete(s.byKey, key)
			delete(s.seen, key)
		}
		return
	}
	if s.byKey[key] == nil {
		s.byKey[key] = map[string][]byte{}
		s.seen[key] = map[string]time.Time{}
	}
	s.byKey[key][member] = append([]byte{}, r.Value...)
	// A status read as it is written was written now, by this member's clock; one read at boot
	// was written when its record says.
	at := time.Now()
	if end, ok := s.bootEnd[r.Partition]; !ok || r.Offset < end {
		at = r.Timestamp
	}
	s.seen[key][member] = at
}

func (s *Statuses) checkReadyLocked() {
	if s.bootEnd == nil {
		return
	}
	for p, end := range s.bootEnd {
		if s.next[p] < end {
			return
		}
	}
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
}

// Publish sets this member's status of key; it returns once the broker has it. Every member,
// this one included, sees it when it reads it.
func (s *Statuses) Publish(ctx context.Context, key string, status []byte) error {
	if len(status) == 0 {
		return fmt.Errorf("publish status %q: empty status", key)
	}
	return s.produce(ctx, key, status)
}

// Remove deletes this member's status of key, with a tombstone.
func (s *Statuses) Remove(ctx context.Context, key string) error { return s.produce(ctx, key, nil) }

func (s *Statuses) produce(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return errors.New("status: empty key")
	}
	s.mu.Lock()
	cl := s.client
	s.mu.Unlock()
	if cl == nil {
		return fmt.Errorf("status %q: %w", key, errStopped)
	}
	r := &kgo.Record{Key: []byte(s.cfg.Member + "/" + key), Value: value}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("status %q: %w", key, err)
	}
	return nil
}

// Of returns every member's status of key, by member name; the statuses are shared, not to
// be modified.
func (s *Statuses) Of(key string) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.byKey[key])
}

// Fresh returns the members whose status of key was written within the last within, sorted.
// A member publishing its status of key periodically, within apart, is live while it is in.
func (s *Statuses) Fresh(key string, within time.Duration) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for member, at := range s.seen[key] {
		if time.Since(at) < within {
			out = append(out, member)
		}
	}
	slices.Sort(out)
	return out
}

// Sync waits until this member has read every status the topic held when Sync was called,
// those other members published a moment ago included, or ctx ends.
func (s *Statuses) Sync(ctx context.Context) error {
	s.mu.Lock()
	cl := s.client
	s.mu.Unlock()
	if cl == nil {
		return fmt.Errorf("sync statuses: %w", errStopped)
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, s.cfg.StatusTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("sync statuses: end offsets of topic %q: %w", s.cfg.StatusTopic, err)
	}
	for {
		s.mu.Lock()
		behind, read := false, s.read
		ends.Each(func(o kadm.ListedOffset) { behind = behind || s.next[o.Partition] < o.Offset })
		s.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-read:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.done:
			return errStopped
		}
	}
}

// Ready is closed once the member has read every status published before Run started.
func (s *Statuses) Ready() <-chan struct{} { return s.ready }

// CaughtUp waits until Ready is closed, ctx ends or Run returns.
func (s *Statuses) CaughtUp(ctx context.Context) error { return caughtUp(ctx, s.ready, s.done) }
