package kafka

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// writeSafely is write with a panic in it (user code: a mapping, a converter) turned into
// the task's failure, with the stack: nothing of the batch is marked, the process goes on.
func (t *task) writeSafely(ctx context.Context, recs []*kgo.Record) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("a batch from %s/%d@%d: %w", recs[0].Topic, recs[0].Partition, recs[0].Offset,
				&sink.PanicError{Op: "write", Value: v, Stack: debug.Stack()})
		}
	}()
	return t.write(ctx, recs)
}

// write turns one batch of polled records into events, writes them through the source's
// sinks, deals with the records that failed, and registers the batch for completion.
// Records of partitions this member no longer owns are dropped: their new owner reads them.
// Records every sink holds already (after a restart or a re-read) are not written again; the
// batch completes once the sinks hold them at the commit level.
func (t *task) write(ctx context.Context, recs []*kgo.Record) error {
	now := time.Now()
	events := make([]mapping.Event, 0, len(recs))
	positions := make([]sink.Position, 0, len(recs))
	sources := make([]*kgo.Record, 0, len(recs)) // the record of each event
	b := &batch{}
	var rejected []rejection
	dropped := 0
	t.c.topics.saw(recs)
	conversions := t.convertAll(ctx, recs)
	for i, r := range recs {
		part := partition{r.Topic, r.Partition}
		tr, held, again := t.admit(part, r.Offset)
		if tr == nil { // not ours any more
			continue
		}
		s := b.cover(tr, part, r.Offset)
		rec, stage, err := r, StageTransformation, error(nil)
		if !held {
			rec, stage, err = t.convertedAt(ctx, conversions, i, r)
			if err == nil {
				stage = StageTransformation
				rec, err = t.transformed(rec)
			}
		}
		switch {
		case held:
			s.held.Add(r.Offset)
		case err != nil && ctx.Err() != nil: // stopped while waiting for a schema registry
			return context.Cause(ctx)
		case errors.As(err, new(*sink.PanicError)): // a converter's panic fails the task, as writeSafely does
			return fmt.Errorf("record %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		case err != nil:
			rejected = append(rejected, rejection{r, stage, err})
		case rec == nil: // dropped by a transform: done with its batch
			dropped++
		case rec.Value == nil && t.c.p.NullValues == "ignore":
		case rec.Value == nil:
			rejected = append(rejected, rejection{r, StageTransformation, errNullValue})
		default:
			events = append(events, eventOf(rec, now))
			positions = append(positions, sink.Position{Stream: tr.stream, Offset: r.Offset, Again: again})
			sources = append(sources, r)
		}
	}
	t.c.records.Add(int64(len(recs)))
	t.c.deps.Metrics.Records.Add(float64(len(recs)))
	t.c.deps.Metrics.Filtered.Add(float64(dropped))
	if len(events) > 0 {
		w, err := t.writeEvents(ctx, events, positions)
		if err != nil {
			return err
		}
		for i := range events {
			if err := w.Err(i); err != nil {
				rejected = append(rejected, rejection{sources[i], StageTransformation, err})
			}
		}
		b.w = w
	}
	if err := t.reject(ctx, rejected); err != nil {
		return err
	}
	if len(b.spans) > 0 {
		t.add(b)
	}
	return nil
}

// cover extends the batch's span of part to offset; records of a partition come in order.
func (b *batch) cover(tr *tracker, part partition, offset int64) *batchSpan {
	for i := range b.spans {
		if b.spans[i].part == part {
			b.spans[i].last = offset
			return &b.spans[i]
		}
	}
	b.spans = append(b.spans, batchSpan{tr: tr, part: part, first: offset, last: offset})
	return &b.spans[len(b.spans)-1]
}

// writeEvents writes events, waiting out back pressure with every partition paused. A refused
// write is tried again as soon as any level of the sinks moves (a sync, an upload or an import
// frees what was full), and at the latest when the retry timer fires: the longer of the
// refusal's RetryAfter and the retry backoff. Only retries the timer starts count against
// max.retries, so a quick succession of progress signals cannot use them up. A drain that
// starts meanwhile ends the wait with errDraining: the levels must drain what they hold.
func (t *task) writeEvents(ctx context.Context, events []mapping.Event, positions []sink.Position) (*sink.Write, error) {
	policy := backoff.NewExponentialBackOff(backoff.WithInitialInterval(t.c.p.RetryBackoff),
		backoff.WithMaxInterval(max(30*time.Second, t.c.p.RetryBackoff)), backoff.WithMaxElapsedTime(0))
	paused := false
	var timer *time.Timer // the pending timed retry; nil when none
	defer func() {
		if paused {
			t.resumeAll()
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	for retries := 0; ; {
		moved := t.c.deps.Writer.Progress() // before the write: a change while it runs is seen
		w, err := t.c.deps.Writer.Write(ctx, t.c.deps.Source, events, positions)
		var bp *sink.BackpressureError
		if !errors.As(err, &bp) {
			return w, err
		}
		t.c.deps.Metrics.WriteRetries.Inc()
		if timer == nil {
			if limit := t.c.p.MaxRetries; limit >= 0 && retries >= limit {
				return nil, fmt.Errorf("the sinks refused a batch %d times (max.retries=%d): %w", retries+1, limit, err)
			}
			retries++
			wait := max(bp.RetryAfter, policy.NextBackOff())
			timer = time.NewTimer(wait)
			if !paused {
				paused = true
				t.pauseAll()
			}
			t.c.log.Warn("sinks not accepting records; partitions paused", "reason", bp.Error(), "retryIn", wait)
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-t.c.deps.Drain.stopped(): // nothing of the batch was written: it stays unmarked
			return nil, errDraining
		case <-moved: // try again now; the timed retry stays pending
		case <-timer.C:
			timer = nil
		}
	}
}

// eventOf builds the event of a record; its bytes are borrowed until the write returns.
func eventOf(r *kgo.Record, now time.Time) mapping.Event {
	ev := mapping.Event{Body: r.Value, ReceivedAt: now, Kafka: true, Topic: r.Topic, Partition: r.Partition,
		Offset: r.Offset, Key: r.Key, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		ev.RecordHeaders = make([]mapping.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			ev.RecordHeaders[i] = mapping.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return ev
}

// rejection is a record the sinks did not take, and why.
type rejection struct {
	rec   *kgo.Record
	stage string
	err   error
}

// reject handles records that failed: with errors.tolerance=none the task stops; with all they
// go to the dead-letter topic (or, without one, are logged and counted). A dead-letter record
// is acknowledged by Kafka before its batch can complete, so a crash cannot lose it. A produce
// error Kafka calls non-retriable (a record larger than the topic's max.message.bytes, a
// topic that refuses writes) fails the task with the reason instead of being retried for ever.
func (t *task) reject(ctx context.Context, rejected []rejection) error {
	if len(rejected) == 0 {
		return nil
	}
	if t.c.p.ErrorsTolerance != "all" {
		r := rejected[0]
		return &errRejected{topic: r.rec.Topic, partition: r.rec.Partition, offset: r.rec.Offset, err: r.err}
	}
	t.c.deadLettered.Add(int64(len(rejected)))
	t.c.deps.Metrics.DeadLettered.Add(float64(len(rejected)))
	for _, r := range rejected {
		t.c.log.Warn("record rejected", "topic", r.rec.Topic, "partition", r.rec.Partition, "offset", r.rec.Offset,
			"deadLetterTopic", t.c.p.DeadLetterTopic, "error", r.err)
	}
	if t.c.p.DeadLetterTopic == "" {
		return nil
	}
	out := make([]*kgo.Record, len(rejected))
	for i, r := range rejected {
		out[i] = deadLetter(&t.c.p, r.rec, t.id, r.stage, r.err)
	}
	return backoff.Retry(func() error {
		results := t.cl.ProduceSync(ctx, out...)
		if ctx.Err() != nil {
			return backoff.Permanent(context.Cause(ctx))
		}
		for i, res := range results {
			if ke := (*kerr.Error)(nil); errors.As(res.Err, &ke) && !ke.Retriable {
				r := rejected[i].rec
				return backoff.Permanent(fmt.Errorf("dead letter of record %s/%d@%d (%d bytes) not accepted by topic %s: %w",
					r.Topic, r.Partition, r.Offset, len(r.Value), t.c.p.DeadLetterTopic, res.Err))
			}
		}
		err := results.FirstErr()
		if err != nil {
			t.c.log.Warn("dead-letter produce failed; retrying", "topic", t.c.p.DeadLetterTopic, "error", err)
		}
		return err
	}, backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithMaxElapsedTime(0)), ctx))
}
