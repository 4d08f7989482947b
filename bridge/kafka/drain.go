package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Drain stops the reading of every consumer it is given to (Deps.Drain) while they stay in
// their groups and keep committing what reaches the commit level. A daemon draining its
// storage levels at shutdown (sink.Manager.Drain) starts it, waits until no task is reading or
// writing, and then drains the levels: the records it imports are committed before the tasks
// leave their groups, so the members that take the partitions over do not read them again.
// A nil *Drain never starts.
type Drain struct {
	stop    context.Context // ended by Start
	start   context.CancelFunc
	mu      sync.Mutex
	reading int           // poll loops running
	idle    chan struct{} // closed once started and reading is 0
}

// errDraining ends a poll loop when the drain starts.
var errDraining = errors.New("draining: reading stopped")

// NewDrain returns a drain not started.
func NewDrain() *Drain {
	stop, start := context.WithCancel(context.Background())
	return &Drain{stop: stop, start: start, idle: make(chan struct{})}
}

// Start stops the reading: each poll loop ends after the batch it is writing.
func (d *Drain) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop.Err() != nil {
		return
	}
	d.start()
	if d.reading == 0 {
		close(d.idle)
	}
}

// Wait waits until every poll loop has ended after Start, or ctx ends.
func (d *Drain) Wait(ctx context.Context) error {
	select {
	case <-d.idle:
		return nil
	case <-ctx.Done():
		d.mu.Lock()
		n := d.reading
		d.mu.Unlock()
		return fmt.Errorf("%d Kafka tasks still writing: %w", n, context.Cause(ctx))
	}
}

// enter registers a poll loop about to start; false when the drain has started (the loop
// must not read).
func (d *Drain) enter() bool {
	if d == nil {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop.Err() != nil {
		return false
	}
	d.reading++
	return true
}

// leave unregisters a poll loop that ended.
func (d *Drain) leave() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reading--; d.reading == 0 && d.stop.Err() != nil {
		close(d.idle)
	}
}

// stopped is closed when the drain starts; nil (never) for a nil Drain.
func (d *Drain) stopped() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.stop.Done()
}

// bind returns ctx, also ended when the drain starts, and the function that releases it.
func (d *Drain) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if d == nil {
		return ctx, cancel
	}
	unbind := context.AfterFunc(d.stop, cancel)
	return ctx, func() { unbind(); cancel() }
}
