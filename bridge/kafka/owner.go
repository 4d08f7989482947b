package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// assigned starts trackers for newly assigned partitions. It also reads what is already on
// local disk, so records written before a restart (or before a revoke) are not written again.
func (t *task) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	recovered, err := t.c.deps.Writer.Recovered(t.c.deps.Source)
	if err != nil {
		t.c.log.Warn("reading recovered offsets; records may be written twice", "error", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recovered = recovered
	for topic, ids := range m {
		for _, id := range ids {
			part := partition{topic, id}
			t.owned[part] = newTracker(part.stream(), 0)
			delete(t.skipping, part)
			delete(t.paused, part)
		}
	}
	if n := len(m); n > 0 {
		t.c.log.Info("partitions assigned", "task", t.id, "partitions", m)
	}
}

// revoked commits what is done for the partitions being given away and forgets the rest. The
// trackers are stopped first, under their locks, so no completion marks them afterwards.
func (t *task) revoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	if t.drop(m) == 0 {
		return
	}
	if err := cl.CommitMarkedOffsets(ctx); err != nil {
		t.c.log.Warn("committing revoked partitions", "error", err)
	}
	t.c.log.Info("partitions revoked", "task", t.id, "partitions", m)
}

// lost forgets partitions without committing: another member may own them already.
func (t *task) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if t.drop(m) > 0 {
		t.c.log.Warn("partitions lost; nothing committed for them", "task", t.id, "partitions", m)
	}
}

func (t *task) drop(m map[string][]int32) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for topic, ids := range m {
		for _, id := range ids {
			part := partition{topic, id}
			if tr := t.owned[part]; tr != nil {
				tr.revoke()
				n++
			}
			delete(t.owned, part)
			delete(t.skipping, part)
			delete(t.paused, part)
		}
	}
	return n
}

// admit returns the tracker of part for a record at offset, or nil when the record is not to
// be written: the partition is not ours, or the record is already on local disk and no offset
// rewind (Deps.Reread) asked for it again. The first
// such record registers the recovered range, done once the sinks' watermark passes it.
func (t *task) admit(part partition, offset int64) *tracker {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.owned[part]
	if tr == nil {
		return nil
	}
	upTo, ok := t.recovered[tr.stream]
	if !ok || offset > upTo {
		return tr
	}
	if again, ok := t.c.deps.Reread[tr.stream]; ok && offset <= again {
		return tr // asked for again by an offset rewind
	}
	if !t.skipping[part] && tr.add(offset, upTo) {
		t.skipping[part] = true
		w, source, stream, level := t.c.deps.Writer, t.c.deps.Source, tr.stream, t.c.p.CommitLevel
		t.inflight = append(t.inflight, &batch{
			spans: []batchSpan{{tr: tr, part: part, first: offset, last: upTo}},
			done: func() (bool, error) {
				at, ok := w.Watermark(source, stream, level)
				return ok && at >= upTo, nil
			},
		})
	}
	return nil
}

// add registers a written batch with its partitions' trackers.
func (t *task) add(b *batch) {
	t.mu.Lock()
	kept := b.spans[:0]
	for _, s := range b.spans {
		if s.tr.add(s.first, s.last) {
			kept = append(kept, s)
		}
	}
	if b.spans = kept; len(kept) > 0 {
		t.inflight = append(t.inflight, b)
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// complete moves trackers forward as batches reach the commit level, until ctx ends or a write
// fails to reach local disk.
func (t *task) complete(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		progress := t.c.deps.Writer.Progress()
		if err := t.settle(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-progress:
		case <-t.wake:
		case <-tick.C:
		}
	}
}

// settle completes every in-flight batch that reached the commit level.
func (t *task) settle() error {
	t.mu.Lock()
	batches := append([]*batch(nil), t.inflight...)
	t.mu.Unlock()
	finished := map[*batch]bool{}
	for _, b := range batches {
		ok, err := b.done()
		if err != nil {
			return fmt.Errorf("a batch did not reach %s: %w", t.c.p.CommitLevel, err)
		}
		if !ok {
			continue
		}
		finished[b] = true
		for _, s := range b.spans {
			s.tr.done(s.first, t.marker(s.part))
		}
	}
	if len(finished) > 0 {
		t.mu.Lock()
		kept := t.inflight[:0]
		for _, b := range t.inflight {
			if !finished[b] {
				kept = append(kept, b)
			}
		}
		clear(t.inflight[len(kept):])
		t.inflight = kept
		t.mu.Unlock()
	}
	t.resumeIdle()
	return nil
}

// marker returns the commit callback of part: it marks the offset for franz-go's commits of
// marked offsets (periodic, on revoke, on close).
func (t *task) marker(part partition) func(next int64) {
	return func(next int64) {
		t.cl.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{part.topic: {part.id: {Epoch: -1, Offset: next}}})
		t.c.deps.Metrics.Marks.Inc()
	}
}
