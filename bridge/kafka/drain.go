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
	mu      sync.Mutex
	stop    chan struct{} // closed by Start
	reading int           // poll loops running
	idle    chan struct{} // closed once started and reading is 0
}

// errDraining ends a poll loop when the drain starts.
var errDraining = errors.New("draining: reading stopped")

// NewDrain returns a drain not started.
func NewDrain() *Drain { return &Drain{stop: make(chan struct{}), idle: make(chan struct{})} }

// Start stops the reading: each poll loop ends after the batch it is writing.
func (d *Drain) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.stop:
		return
	default:
	}
	close(d.stop)
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
	select {
	case <-d.stop:
		return false
	default:
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
	if d.reading--; d.reading == 0 {
		select {
		case <-d.stop:
			close(d.idle)
		default:
		}
	}
}

// stopped is closed when the drain starts; nil (never) for a nil Drain.
func (d *Drain) stopped() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.stop
}
