package intake

import (
	"context"
	"sync"
	"time"
)

// deadlines hands out shared contexts that end between RequestTimeout and RequestTimeout plus
// 1 % after a request started, so requests do not each pay for a timer: one context serves
// every request that starts within the same 1 % of the timeout. A context is replaced at
// least slack after the previous one, so the contexts older than timeout/slack+2 generations
// are past their deadline; their cancel functions are then called to release them.
type deadlines struct {
	timeout time.Duration
	slack   time.Duration
	mu      sync.Mutex
	ctx     context.Context
	end     time.Time
	cancels []context.CancelFunc
}

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, slack: max(timeout/100, time.Millisecond)}
}

func (d *deadlines) get(now time.Time) context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx != nil && !d.end.Before(now.Add(d.timeout)) {
		return d.ctx
	}
	d.end = now.Add(d.timeout + d.slack)
	ctx, cancel := context.WithDeadline(context.Background(), d.end)
	d.ctx = ctx
	d.cancels = append(d.cancels, cancel)
	if len(d.cancels) > int(d.timeout/d.slack)+2 {
		d.cancels[0]()
		d.cancels = append(d.cancels[:0], d.cancels[1:]...)
	}
	return ctx
}

// stop cancels every context handed out.
func (d *deadlines) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cancels {
		c()
	}
	d.cancels, d.ctx = nil, nil
}
