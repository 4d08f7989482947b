package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/local"
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

	mu       sync.Mutex
	owned    map[partition]*tracker
	held     sink.Offsets // per stream, what every sink held at the last assignment
	inflight []*batch
	paused   map[partition]bool
	wake     chan struct{}
	warned   map[string]time.Time // fetch errors logged recently; the poll loop's own

	// arenas hold the converted keys and values of the batch being written, one per
	// converting worker; the poll loop's own, reused from batch to batch (a batch's events
	// borrow their bytes only until its write returns).
	arenas [][]byte
	lagMu  sync.Mutex
	hwm    map[partition]int64 // the high watermark of each partition's last fetch
}

// batch is what the completion loop waits for: a write, the offsets the sinks already held
// (not written again), and the spans it covers, one per partition.
type batch struct {
	w     *sink.Write // nil when nothing was written
	spans []batchSpan
}

type batchSpan struct {
	tr          *tracker
	sp          *span
	part        partition
	first, last int64
	held        local.Ranges // offsets of the span the sinks held already
}

func newTask(c *Consumer, id int) (*task, error) {
	t := &task{c: c, id: id, owned: map[partition]*tracker{},
		paused: map[partition]bool{}, wake: make(chan struct{}, 1), hwm: map[partition]int64{}}
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
		kgo.AutoCommitCallback(t.committed),
		// No rebalance runs between a poll and the end of its processing: a partition's
		// records are never handed to the tracker of a later assignment.
		kgo.BlockRebalanceOnPoll(),
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
// the group. A batch that fails to become durable stops the poll loop at once: nothing after
// it in its partition is marked, and the caller starts the task again, which re-reads from
// the committed offsets and writes exactly what no sink holds.
//
// When the drain (Deps.Drain) starts, the poll loop ends after the batch it is writing (or
// waiting out back pressure for) and the task keeps completing and committing until ctx ends.
// The caller has entered the drain; run leaves it when its poll loop ends.
func (t *task) run(ctx context.Context) error {
	defer t.cl.Close() // revokes every partition: the last commit of what is done
	var wg sync.WaitGroup
	loopCtx, cancel := context.WithCancelCause(ctx)
	wg.Go(func() {
		if err := t.complete(loopCtx); err != nil {
			cancel(err)
		}
	})
	err := t.poll(loopCtx)
	if errors.Is(err, context.Canceled) && ctx.Err() == nil && loopCtx.Err() != nil {
		// A write that stopped because the loop did (the completion found a batch that will
		// never be durable) tells of the cancellation; the loop's cause says why, and decides
		// whether the task starts again.
		err = context.Cause(loopCtx)
	}
	t.c.deps.Drain.leave()
	if errors.Is(err, errDraining) {
		<-loopCtx.Done() // the levels drain: what they import is completed and committed
		err = context.Cause(loopCtx)
	}
	cancel(err)
	wg.Wait()
	_ = t.settle() // mark what completed since the last pass, for the final commit at Close
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// poll reads batches of at most batch.max.size records and writes them.
// It ends with errDraining when the drain starts, between two batches.
func (t *task) poll(ctx context.Context) error {
	defer t.cl.AllowRebalance()
	fetchCtx, stopFetch := t.c.deps.Drain.bind(ctx) // also ends when the drain starts
	defer stopFetch()
	for {
		t.cl.AllowRebalance()
		fs := t.cl.PollRecords(fetchCtx, t.c.p.BatchMaxSize)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if fetchCtx.Err() != nil {
			return errDraining // what this poll returned is not written: it stays unmarked
		}
		if err := t.fetchError(fs); err != nil {
			return err
		}
		t.learnTopicIDs(fs)
		t.observeFetches(fs)
		recs := fs.Records()
		for len(recs) > 0 {
			n := t.cut(recs)
			if err := t.writeSafely(ctx, recs[:n]); err != nil {
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
		case errors.Is(e, kerr.UnknownTopicID):
			// The topic was deleted, maybe created again under its name: a new client reads
			// the new topic from the start of what the group has committed for it.
			if err == nil {
				err = &errTopicChanged{topic: topic, err: e}
			}
		case errors.Is(e, kgo.ErrClientClosed), errors.Is(e, kerr.TopicAuthorizationFailed),
			errors.Is(e, kerr.GroupAuthorizationFailed), errors.Is(e, kerr.SaslAuthenticationFailed):
			if err == nil {
				err = fmt.Errorf("fetch %s/%d: %w", topic, p, e)
			}
		default:
			t.warnFetch(topic, p, e)
		}
	})
	return err
}

// fetchWarnEvery is how often one partition's repeated fetch error is logged.
const fetchWarnEvery = 30 * time.Second

// warnFetch logs a fetch error that franz-go retries, once per fetchWarnEvery for the same
// partition and error: a broker that stays away must not flood the log.
func (t *task) warnFetch(topic string, p int32, err error) {
	key := topic + "/" + strconv.Itoa(int(p)) + ": " + err.Error()
	if last, ok := t.warned[key]; ok && time.Since(last) < fetchWarnEvery {
		return
	}
	if t.warned == nil || len(t.warned) > 1000 {
		t.warned = map[string]time.Time{}
	}
	t.warned[key] = time.Now()
	t.c.log.Warn("fetch failed; retrying", "topic", topic, "partition", p, "error", err)
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
