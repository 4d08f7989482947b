package kafka

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/sink"
)

// heldTimeout bounds how long an assignment waits for the sinks' pending syncs.
const heldTimeout = 30 * time.Second

// assigned starts trackers for newly assigned partitions and reads the ledger: the exact
// offsets every sink holds durably. Pending syncs are waited for first, so rows a previous
// task wrote count only once they are durable. Records whose offsets are held are not
// written again; every other record is, whatever offsets around it are held.
func (t *task) assigned(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	ctx, cancel := context.WithTimeout(ctx, heldTimeout)
	defer cancel()
	if err := t.c.deps.Writer.Flush(ctx, t.c.deps.Source); err != nil {
		t.c.log.Warn("waiting for pending syncs", "error", err)
	}
	held, err := t.c.deps.Writer.Held(t.c.deps.Source)
	if err != nil {
		t.c.log.Warn("reading the sinks' offsets; records they hold may be written again", "error", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.held = held
	for topic, ids := range m {
		for _, id := range ids {
			part := partition{topic, id}
			t.owned[part] = newTracker(part.stream())
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
			delete(t.paused, part)
			t.lagMu.Lock()
			delete(t.hwm, part)
			t.lagMu.Unlock()
		}
	}
	return n
}

// learnTopicIDs gives each owned partition of a fetched topic its ledger key, the partition
// named with the topic's id: a topic deleted and created again under the same name is a new
// stream, and what the sinks held of the old one does not hide the new one's records.
func (t *task) learnTopicIDs(fs kgo.Fetches) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fs.EachTopic(func(ft kgo.FetchTopic) {
		for _, fp := range ft.Partitions {
			tr := t.owned[partition{ft.Topic, fp.Partition}]
			if tr == nil {
				continue
			}
			key := streamKey(tr.name, ft.TopicID)
			if tr.stream == key {
				continue
			}
			tr.stream = key
			tr.held = t.held[key].Clone()
			if key != tr.name {
				tr.held.Union(t.held[tr.name]) // rows recorded before topic ids were kept
			}
			tr.heldLast = -1
			if last, ok := tr.held.Last(); ok {
				tr.heldLast = last
			}
		}
	})
}

// streamKey is the ledger key of partition name of the topic with id ("" when the cluster
// does not return topic ids).
func streamKey(name string, id [16]byte) string {
	if id == ([16]byte{}) {
		return name
	}
	return name + "@" + hex.EncodeToString(id[:])
}

// admit returns the tracker of part for a record at offset (nil when the partition is not
// ours any more), whether every sink holds the record already, and whether an offset rewind
// (Deps.Reread) asks for it again: then it is written even where it is held.
func (t *task) admit(part partition, offset int64) (tr *tracker, held, again bool) {
	t.mu.Lock()
	tr = t.owned[part]
	t.mu.Unlock()
	if tr == nil || tr.stream == "" {
		return nil, false, false
	}
	if upTo, ok := t.c.deps.Reread[tr.name]; ok && offset <= upTo {
		return tr, false, true
	}
	return tr, offset <= tr.heldLast && tr.held.Contains(offset), false
}

// add registers a batch with its partitions' trackers.
func (t *task) add(b *batch) {
	t.mu.Lock()
	kept := b.spans[:0]
	for _, s := range b.spans {
		if s.sp = s.tr.add(s.first, s.last); s.sp != nil {
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

// complete moves trackers forward as batches reach the commit level, until ctx ends or a
// batch fails to become durable.
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
			return nil
		case <-progress:
		case <-t.wake:
		case <-tick.C:
		}
	}
}

// settle completes every in-flight batch that reached the commit level. A batch whose rows
// will never reach it (a failed write or fsync) is returned as an *errNotDurable; batches of
// other partitions are settled all the same.
func (t *task) settle() error {
	t.mu.Lock()
	batches := append([]*batch(nil), t.inflight...)
	t.mu.Unlock()
	finished := map[*batch]bool{}
	var failed error
	for _, b := range batches {
		ok, err := t.reached(b)
		if err != nil {
			if failed == nil {
				s := b.spans[0]
				failed = &errNotDurable{part: s.part, first: s.first, level: t.c.p.CommitLevel, err: err}
			}
			continue
		}
		if !ok {
			continue
		}
		finished[b] = true
		for _, s := range b.spans {
			s.tr.done(s.sp, t.marker(s.part))
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
	return failed
}

// reached reports whether every record of b is at the commit level: its written rows, and the
// offsets the sinks held already.
func (t *task) reached(b *batch) (bool, error) {
	level := t.c.p.CommitLevel
	if b.w != nil {
		if ok, err := b.w.Reached(level); !ok || err != nil {
			return false, err
		}
	}
	for _, s := range b.spans {
		if len(s.held) > 0 && !t.c.deps.Writer.Holds(t.c.deps.Source, s.tr.stream, s.held, level) {
			return false, nil
		}
	}
	return true, nil
}

// marker returns the commit callback of part: it marks the offset for franz-go's commits of
// marked offsets (periodic, on revoke, on close).
func (t *task) marker(part partition) func(next int64) {
	return func(next int64) {
		t.cl.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{part.topic: {part.id: {Epoch: -1, Offset: next}}})
		t.c.deps.Metrics.Marks.Inc()
	}
}

// errNotDurable is a batch whose rows did not become durable (a failed write or fsync): the
// task is started again and re-reads it.
type errNotDurable struct {
	part  partition
	first int64
	level sink.Level
	err   error
}

func (e *errNotDurable) Error() string {
	return fmt.Sprintf("the batch from %s@%d did not reach %s: %v", e.part.stream(), e.first, e.level, e.err)
}

func (e *errNotDurable) Unwrap() error { return e.err }

// errTopicChanged is a fetch of a topic id the cluster no longer has: the topic was deleted
// (and maybe created again under its name).
type errTopicChanged struct {
	topic string
	err   error
}

func (e *errTopicChanged) Error() string {
	return fmt.Sprintf("topic %s was deleted or created again: %v", e.topic, e.err)
}

func (e *errTopicChanged) Unwrap() error { return e.err }

// retryable reports whether a task that failed with err is started again: its batch is read
// again from the committed offsets, or its topic from its new id.
func retryable(err error) bool {
	var nd *errNotDurable
	var tc *errTopicChanged
	return errors.As(err, &nd) || errors.As(err, &tc)
}
