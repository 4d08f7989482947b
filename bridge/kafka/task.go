package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// partition names a topic partition.
type partition struct {
	topic string
	id    int32
}

func (p partition) stream() string { return p.topic + "/" + strconv.Itoa(int(p.id)) }

// task is one member of the pipeline's consumer group: a franz-go client, the trackers of the
// partitions it owns, and the batches it has written that are not yet at the commit level.
//
// The poll loop (run) writes batches; the completion loop (complete) moves trackers forward as
// the sinks progress; franz-go calls the rebalance callbacks from its own goroutine. mu guards
// the maps and the in-flight list; each tracker has its own lock.
type task struct {
	c  *Consumer
	id int
	cl *kgo.Client

	mu        sync.Mutex
	owned     map[partition]*tracker
	recovered map[string]int64   // per stream, the highest offset already on local disk
	skipping  map[partition]bool // partitions whose recovered range is registered
	inflight  []*batch
	paused    map[partition]bool
	wake      chan struct{}
}

// batch is what the completion loop waits for: a write (or a recovered range) and the spans it
// covers, one per partition.
type batch struct {
	done  func() (bool, error)
	spans []batchSpan
}

type batchSpan struct {
	tr          *tracker
	part        partition
	first, last int64
}

func newTask(c *Consumer, id int) (*task, error) {
	t := &task{c: c, id: id, owned: map[partition]*tracker{}, skipping: map[partition]bool{},
		paused: map[partition]bool{}, wake: make(chan struct{}, 1)}
	opts, err := c.deps.Client.Options()
	if err != nil {
		return nil, err
	}
	reset := kgo.NewOffset().AtStart()
	if c.p.StartAtEnd {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumerGroup(c.p.GroupID),
		kgo.ConsumeResetOffset(reset),
		kgo.AutoCommitMarks(), // only offsets marked done are committed, never what was merely polled
		kgo.OnPartitionsAssigned(t.assigned),
		kgo.OnPartitionsRevoked(t.revoked),
		kgo.OnPartitionsLost(t.lost),
		kgo.FetchMaxBytes(int32(min(c.p.BatchMaxBytes*4, 1<<30))),
	)
	if c.p.TopicsRegex != nil {
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(c.p.TopicsRegex.String()))
	} else {
		opts = append(opts, kgo.ConsumeTopics(c.p.Topics...))
	}
	if c.p.DeadLetterTopic != "" {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	opts = append(opts, c.p.membership(id)...)
	if t.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return t, nil
}

// run polls and writes until ctx ends or the task fails, then commits what is done and leaves
// the group.
func (t *task) run(ctx context.Context) error {
	defer t.cl.Close() // revokes every partition: the last commit of what is done
	var wg sync.WaitGroup
	done := make(chan error, 1)
	loopCtx, cancel := context.WithCancelCause(ctx)
	wg.Go(func() { done <- t.complete(loopCtx) })
	err := t.poll(loopCtx)
	cancel(err)
	wg.Wait()
	if err == nil || errors.Is(err, context.Canceled) {
		_ = t.settle() // mark what completed since the last pass, for the final commit at Close
	}
	if cerr := <-done; err == nil && cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// poll reads batches of at most batch.max.size records and writes them.
func (t *task) poll(ctx context.Context) error {
	for {
		fs := t.cl.PollRecords(ctx, t.c.p.BatchMaxSize)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := t.fetchError(fs); err != nil {
			return err
		}
		recs := fs.Records()
		for len(recs) > 0 {
			n := t.cut(recs)
			if err := t.write(ctx, recs[:n]); err != nil {
				return err
			}
			recs = recs[n:]
		}
		t.pauseBusy()
	}
}

// cut returns how many of recs fit one batch under kbridge.batch.max.bytes (at least one).
func (t *task) cut(recs []*kgo.Record) int {
	size := 0
	for i, r := range recs {
		if size += len(r.Value) + len(r.Key); size > t.c.p.BatchMaxBytes && i > 0 {
			return i
		}
	}
	return len(recs)
}

// fetchError returns the first fetch error that stops the task (the client closed, access
// refused); others (a topic not created yet, a leader moving) are logged and retried by
// franz-go.
func (t *task) fetchError(fs kgo.Fetches) error {
	var err error
	fs.EachError(func(topic string, p int32, e error) {
		switch {
		case errors.Is(e, context.Canceled):
		case errors.Is(e, kgo.ErrClientClosed), errors.Is(e, kerr.TopicAuthorizationFailed),
			errors.Is(e, kerr.GroupAuthorizationFailed), errors.Is(e, kerr.SaslAuthenticationFailed):
			if err == nil {
				err = fmt.Errorf("fetch %s/%d: %w", topic, p, e)
			}
		default:
			t.c.log.Warn("fetch failed; retrying", "topic", topic, "partition", p, "error", e)
		}
	})
	return err
}

// membership returns the group membership options of task id.
func (p *Pipeline) membership(id int) []kgo.Opt {
	var opts []kgo.Opt
	if p.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(p.InstanceID+"-"+strconv.Itoa(id)))
	}
	if p.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(p.SessionTimeout))
	}
	if p.HeartbeatInterval > 0 {
		opts = append(opts, kgo.HeartbeatInterval(p.HeartbeatInterval))
	}
	if p.RebalanceTimeout > 0 {
		opts = append(opts, kgo.RebalanceTimeout(p.RebalanceTimeout))
	}
	return opts
}
