package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink/local"
)

// renderState is a Renderer with its reusable buffers, pooled per file (per mapping).
type renderState struct {
	r    *mapping.Renderer
	rows mapping.Rows
	buf  []byte
	pos  []Position
}

// Write renders events through every enabled sink of the source and appends each sink's
// rows to its current slice in one append (one group commit covers the batch). positions is
// nil or has one entry per event. An event that any sink fails to render is written to no
// sink: Err(i) tells why (a *mapping.ColumnError). The returned error is for the batch: the
// source is unknown or has no enabled sink (ErrNoEnabledSink), a sink refuses rows
// (*BackpressureError: ErrNotReady or ErrDiskFull), or the manager is closed. When a later sink
// refuses, earlier sinks may already hold the rows (at-least-once: the caller retries). Write
// records in each event whether its body was checked (mapping.Prepare).
func (m *Manager) Write(ctx context.Context, source SourceKey, events []mapping.Event, positions []Position) (*Write, error) {
	return m.write(ctx, source, events, positions, false)
}

// WriteBatch is Write for a batch that is written whole or not at all: when any sink fails to
// render any event, no row is written (Failed and Err tell which events failed and why).
func (m *Manager) WriteBatch(ctx context.Context, source SourceKey, events []mapping.Event, positions []Position) (*Write, error) {
	return m.write(ctx, source, events, positions, true)
}

func (m *Manager) write(ctx context.Context, source SourceKey, events []mapping.Event, positions []Position, whole bool) (*Write, error) {
	if positions != nil && len(positions) != len(events) {
		return nil, fmt.Errorf("write to %s: %d positions for %d events", source, len(positions), len(events))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pipes, err := m.enabledPipelines(source, make([]*pipeline, 0, 4))
	if err != nil {
		return nil, err
	}
	w := &Write{m: m, events: len(events)}
	if len(pipes) <= len(w.one) {
		w.refs = w.one[:len(pipes)]
	} else {
		w.refs = make([]writeRef, len(pipes))
	}
	for _, p := range pipes {
		if err := p.ready(); err != nil {
			return nil, err
		}
	}
	mapping.Prepare(events) // each body is checked once, not once per sink
	states := make([]*renderState, len(pipes))
	slices := make([]*sliceEntry, len(pipes))
	defer func() {
		for i, rs := range states {
			if rs != nil {
				slices[i].file.pool.Put(rs)
			}
		}
	}()
	for i, p := range pipes {
		s := p.cur.Load()
		if s == nil {
			return nil, &BackpressureError{Sink: p.key, Err: ErrNotReady, Reason: "no open slice", RetryAfter: m.cfg.RetryAfter}
		}
		rs, err := s.file.render(events)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", p.key, err)
		}
		slices[i], states[i] = s, rs
		w.collect(&states[i].rows)
	}
	if w.failed == len(events) || whole && w.failed > 0 {
		w.none = true
		return w, nil
	}
	for i, p := range pipes {
		if err := p.write(w, &slices[i], &states[i], events, positions, &w.refs[i]); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// render renders events with the file's mapping into a pooled state. A panic in the mapping
// is returned as a *PanicError and the renderer is dropped, not pooled.
func (f *fileEntry) render(events []mapping.Event) (rs *renderState, err error) {
	rs, _ = f.pool.Get().(*renderState)
	if rs == nil {
		rs = &renderState{r: f.mapping.NewRenderer()}
	}
	defer func() {
		if v := recover(); v != nil {
			rs, err = nil, newPanicError("render", v)
		}
	}()
	rs.r.RenderBatch(events, &rs.rows)
	return rs, nil
}

// write appends the rendered rows; if the slice was rotated meanwhile it retries on the new
// one (re-rendering when the new file has another mapping).
func (p *pipeline) write(w *Write, s **sliceEntry, rs **renderState, events []mapping.Event, positions []Position, ref *writeRef) error {
	ref.pipe = p
	held := p.heldPositions(positions, ref) // once: a retry on the next slice holds nothing new
	for attempt := 0; ; attempt++ {
		rows, n, pos := (*rs).selected(w, positions, held)
		if n == 0 {
			return nil // every row is held already
		}
		point, err := (*s).w.Append(rows, n, pos)
		if err == nil {
			ref.point, ref.slice, ref.wait = point, *s, p.syncWait.Load()
			p.appended(pos)
			return nil
		}
		if !errors.Is(err, local.ErrClosed) {
			return p.appendError(err)
		}
		next := p.cur.Load()
		if next == nil || attempt > 100 {
			return &BackpressureError{Sink: p.key, Err: ErrNotReady, Reason: "slice being replaced", RetryAfter: p.m.cfg.RetryAfter}
		}
		if next.file != (*s).file {
			(*s).file.pool.Put(*rs)
			*rs = nil
			again, err := next.file.render(events)
			if err != nil {
				return fmt.Errorf("sink %s: %w", p.key, err)
			}
			*rs = again
			w.collect(&(*rs).rows)
		}
		*s = next
	}
}

// selected returns the rows, count and positions of the events no sink failed and this sink
// does not hold already (skip, indexed by event; nil when none).
func (rs *renderState) selected(w *Write, positions []Position, skip []bool) ([]byte, int, []Position) {
	if w.failed == 0 && skip == nil {
		return rs.rows.Bytes(), rs.rows.Len(), positions
	}
	rs.buf, rs.pos = rs.buf[:0], rs.pos[:0]
	n := 0
	for i := range rs.rows.Len() {
		if w.Err(i) != nil || skip != nil && skip[i] {
			continue
		}
		rs.buf = append(rs.buf, rs.rows.Row(i)...)
		if positions != nil {
			rs.pos = append(rs.pos, positions[i])
		}
		n++
	}
	if positions == nil {
		return rs.buf, n, nil
	}
	return rs.buf, n, rs.pos
}

// Write is the outcome of one Manager.Write: which events failed to render, and a handle to
// wait until the written rows reach a level.
type Write struct {
	m      *Manager
	refs   []writeRef
	one    [1]writeRef // refs of a source with one sink, without a second allocation
	errs   []error
	failed int
	events int
	none   bool // no row was written
}

type writeRef struct {
	point *local.SyncPoint
	slice *sliceEntry
	wait  bool // sync.wait of the sink when written
	pipe  *pipeline
	held  Offsets // positions the sink already held, not appended again
}

// collect records render errors of a batch; the first error per event wins.
func (w *Write) collect(rows *mapping.Rows) {
	for i := range rows.Len() {
		if err := rows.Err(i); err != nil {
			if w.errs == nil {
				w.errs = make([]error, w.events)
			}
			if w.errs[i] == nil {
				w.errs[i] = err
				w.failed++
			}
		}
	}
}

// Err is why event i was not written (a *mapping.ColumnError), nil if it was.
func (w *Write) Err(i int) error {
	if w.errs == nil {
		return nil
	}
	return w.errs[i]
}

// Failed is how many events were not written.
func (w *Write) Failed() int { return w.failed }

// Written is how many events were written (to every enabled sink).
func (w *Write) Written() int {
	if w.none {
		return 0
	}
	return w.events - w.failed
}
