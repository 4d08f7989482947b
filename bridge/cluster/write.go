package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errFenced is a write whose transaction a later writer aborted; it is tried again.
var errFenced = errors.New("fenced by a concurrent writer")

const maxWriteRetryBackoff = time.Second

// Put sets key to value if the key is at version expected (0: the key must not exist). It
// returns the new version once this member has applied the record, or a *ConflictError
// (errors.Is ErrConflict) when the key is at another version. value must not be empty; the
// log keeps it, the caller must not modify it afterwards.
func (l *Log) Put(ctx context.Context, key string, expected int64, value []byte) (int64, error) {
	if len(value) == 0 {
		return 0, fmt.Errorf("put %q: empty value", key)
	}
	return l.write(ctx, write{key: key, expected: expected, value: value, writer: l.cfg.Member})
}

// Delete removes key if it is at version expected, with a tombstone, so compaction forgets
// it. It returns once this member has applied the tombstone, or a *ConflictError when the key
// is at another version or does not exist.
func (l *Log) Delete(ctx context.Context, key string, expected int64) error {
	_, err := l.write(ctx, write{key: key, expected: expected, writer: l.cfg.Member})
	return err
}

// write retries a write fenced by a concurrent writer: the retry fences that writer in turn,
// reads what it committed and usually ends in a conflict.
func (l *Log) write(ctx context.Context, w write) (int64, error) {
	if w.key == "" {
		return 0, errors.New("write: empty key")
	}
	if w.expected < 0 {
		return 0, fmt.Errorf("write %q: negative expected version %d", w.key, w.expected)
	}
	backoff := l.cfg.WriteRetryBackoff
	for {
		version, err := l.writeOnce(ctx, w)
		if !errors.Is(err, errFenced) {
			l.metrics.Writes.WithLabelValues(resultLabel(err)).Inc()
			return version, err
		}
		l.metrics.Fenced.Inc()
		l.logger.Debug("shared definition write fenced, retrying", "key", w.key, "error", err)
		wait := backoff/2 + rand.N(backoff) // jitter, so two fenced writers do not meet again
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, fmt.Errorf("write %q: %w", w.key, context.Cause(ctx))
		}
		backoff = min(2*backoff, maxWriteRetryBackoff)
	}
}

// writeOnce fences every earlier writer, catches up with what they committed, checks the
// version and commits the record in a transaction, then waits for this member to apply it.
func (l *Log) writeOnce(ctx context.Context, w write) (int64, error) {
	cl, err := kgo.NewClient(append(slices.Clone(l.opts),
		kgo.TransactionalID(l.cfg.Topic+".writer"), kgo.DefaultProduceTopic(l.cfg.Topic))...)
	if err != nil {
		return 0, fmt.Errorf("write %q: kafka client: %w", w.key, err)
	}
	defer cl.Close()
	if _, _, err := cl.ProducerID(ctx); err != nil { // InitProducerID: aborts an earlier writer's transaction
		return 0, fmt.Errorf("write %q: init producer: %w", w.key, fenced(err))
	}
	end, err := committedEnd(ctx, kadm.NewClient(cl), l.cfg.Topic)
	if err != nil {
		return 0, fmt.Errorf("write %q: %w", w.key, err)
	}
	if err := l.waitApplied(ctx, end); err != nil {
		return 0, fmt.Errorf("write %q: catch up: %w", w.key, err)
	}
	if err := l.check(w); err != nil {
		return 0, err
	}
	offset, applied, err := l.commit(ctx, cl, w)
	if err != nil {
		return 0, fmt.Errorf("write %q: %w", w.key, err)
	}
	return l.await(ctx, w, offset, applied)
}

// check decides the write against this member's state, which holds everything committed.
func (l *Log) check(w write) error {
	l.mu.Lock()
	cur := l.state[w.key].Version
	l.mu.Unlock()
	if cur != w.expected || w.value == nil && cur == 0 {
		return &ConflictError{Key: w.key, Expected: w.expected, Current: cur}
	}
	return nil
}

// commit produces the record in a transaction and registers a waiter for its offset before
// committing, so the member cannot apply it unseen.
func (l *Log) commit(ctx context.Context, cl *kgo.Client, w write) (int64, <-chan outcome, error) {
	if err := cl.BeginTransaction(); err != nil {
		return 0, nil, fmt.Errorf("begin transaction: %w", err)
	}
	res := cl.ProduceSync(ctx, w.record(l.cfg.Topic))
	r, err := res.First()
	if err != nil {
		_ = cl.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
		return 0, nil, fmt.Errorf("produce: %w", fenced(err))
	}
	applied := make(chan outcome, 1)
	l.mu.Lock()
	l.waiters[r.Offset] = applied
	l.mu.Unlock()
	// Not ctx: a cancelled EndTxn leaves the outcome unknown (franz-go's advice).
	if err := cl.EndTransaction(context.WithoutCancel(ctx), kgo.TryCommit); err != nil {
		l.mu.Lock()
		delete(l.waiters, r.Offset)
		l.mu.Unlock()
		return 0, nil, fmt.Errorf("commit: %w", fenced(err))
	}
	return r.Offset, applied, nil
}

// await waits for the member to apply the committed record at offset.
func (l *Log) await(ctx context.Context, w write, offset int64, applied <-chan outcome) (int64, error) {
	select {
	case o := <-applied:
		if !o.accepted {
			return 0, &ConflictError{Key: w.key, Expected: w.expected, Current: o.version}
		}
		return o.version, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("write %q: committed at offset %d, not applied yet: %w", w.key, offset, context.Cause(ctx))
	case <-l.done:
		return 0, fmt.Errorf("write %q: %w", w.key, errStopped)
	}
}

// fenced marks the errors of a writer whose transaction a later writer aborted.
func fenced(err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionAbortable) || errors.Is(err, kerr.InvalidTxnState) {
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	return err
}

func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrConflict):
		return "conflict"
	}
	return "error"
}
