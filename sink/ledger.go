package sink

import (
	"context"
	"math"
	"strings"

	"github.com/kbridge/kbridge/sink/local"
)

// Offsets, per stream, are the exact offset ranges a sink holds. Each slice keeps the offsets
// of its rows, made durable by the same sync as the rows (its sync log); a closed slice keeps
// them in its record, an imported file keeps the union of its slices' offsets until it is
// pruned. Together they are the ledger the Kafka bridge recovers from: a record is read again
// exactly when no level of some sink holds its offset.
type Offsets = map[string]local.Ranges

// Held returns, per stream, the offsets that every enabled sink of the source holds durably
// at any level: fsynced in a slice, uploaded, or imported (while the file is still listed).
// Rows appended but not yet fsynced are not held. A stream missing from any sink is omitted.
func (m *Manager) Held(source SourceKey) (Offsets, error) {
	pipes, err := m.enabledPipelines(source, nil)
	if err != nil {
		return nil, err
	}
	var out Offsets
	for _, p := range pipes {
		held := p.offsets(LevelLocal)
		if out == nil {
			out = held
			continue
		}
		for k, v := range out {
			if both := v.Intersect(held[k]); len(both) > 0 {
				out[k] = both
			} else {
				delete(out, k)
			}
		}
	}
	return out, nil
}

// Holds reports whether every enabled sink of the source holds every offset of rs in stream
// at level or beyond (local: fsynced). Progress signals when the answer may have changed.
func (m *Manager) Holds(source SourceKey, stream string, rs local.Ranges, level Level) bool {
	pipes, err := m.enabledPipelines(source, nil)
	if err != nil || level.rank() == 0 || len(pipes) == 0 {
		return false
	}
	for _, p := range pipes {
		if !p.holds(stream, rs, level) {
			return false
		}
	}
	return true
}

// Recovered returns, per partition ("topic/partition", whatever the topic's id), the highest
// offset every enabled sink of the source holds: what an offset rewind has to write again.
func (m *Manager) Recovered(source SourceKey) (map[string]int64, error) {
	held, err := m.Held(source)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for k, rs := range held {
		name, _, _ := strings.Cut(k, "@")
		if last, ok := rs.Last(); ok {
			if v, seen := out[name]; !seen || last > v {
				out[name] = last
			}
		}
	}
	return out, nil
}

// Flush waits until every row appended so far to the source's enabled sinks has been through
// a sync, successful or not, so that Held tells exactly what is durable.
func (m *Manager) Flush(ctx context.Context, source SourceKey) error {
	pipes, err := m.enabledPipelines(source, nil)
	if err != nil {
		return err
	}
	for _, p := range pipes {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if s := p.cur.Load(); s != nil && s.w != nil {
			_ = s.w.Sync() // a failed sync breaks the slice: what it held unsynced is not held
		}
		// Taking the lock is the wait: a rotation under way holds it through its final sync.
		p.mu.Lock()
		p.mu.Unlock() //lint:ignore SA2001 the lock is the wait
	}
	return nil
}

// offsets returns, per stream, the offsets the sink holds durably at level or beyond.
func (p *pipeline) offsets(level Level) Offsets {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.offsetsLocked(level, "", false)
}

// holds reports whether the sink holds every offset of rs in stream at level or beyond.
func (p *pipeline) holds(stream string, rs local.Ranges, level Level) bool {
	if len(rs) == 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.offsetsLocked(level, stream, false)[stream].Covers(rs)
}

// offsetsLocked collects, per stream (only stream, unless it is ""), the offsets the sink
// holds at level or beyond: imported (pruned files included), uploaded, in closed slices, and
// in the slice being written those fsynced or, with pending, every one appended to it while it
// is not broken. p.mu must be held.
func (p *pipeline) offsetsLocked(level Level, stream string, pending bool) Offsets {
	out := Offsets{}
	add := func(in Offsets) {
		if stream == "" {
			unionInto(out, in)
		} else if rs := in[stream]; len(rs) > 0 {
			have := out[stream]
			have.Union(rs)
			out[stream] = have
		}
	}
	add(p.pruned)
	for _, f := range p.files {
		if f.rec.State == FileImported {
			add(f.rec.Stats.Streams)
			continue
		}
		for _, s := range f.slices {
			switch {
			case s.level().rank() < level.rank():
			case s.rec.State == SliceWriting:
				if s.w != nil {
					s.w.Offsets(out, stream, !pending)
				}
			default:
				add(s.rec.Stats.Streams)
			}
		}
	}
	return out
}

func unionInto(out Offsets, in Offsets) {
	for k, rs := range in {
		have := out[k]
		have.Union(rs)
		out[k] = have
	}
}

// Watermark returns the highest offset of stream such that every record of the stream
// written so far at or below it has reached level in every enabled sink of the source; ok is
// false when no record of the stream is known at that level. Records of one stream must be
// written in offset order. Progress signals when it may have moved.
func (m *Manager) Watermark(source SourceKey, stream string, level Level) (offset int64, ok bool) {
	pipes, err := m.enabledPipelines(source, nil)
	if err != nil || level.rank() == 0 {
		return 0, false
	}
	offset = math.MaxInt64
	for _, p := range pipes {
		wm, known := p.watermark(stream, level)
		if !known {
			return 0, false
		}
		offset = min(offset, wm)
	}
	return offset, true
}

// watermark walks the sink's slices oldest first and stops at the first one holding the
// stream that has not reached level.
func (p *pipeline) watermark(stream string, level Level) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wm, known := p.pruned[stream].Last()
	for _, f := range p.files {
		if f.rec.State == FileImported {
			if last, ok := f.rec.Stats.Streams[stream].Last(); ok {
				wm, known = max(wm, last), true
			}
			continue
		}
		for _, s := range f.slices {
			if s.rec.State == SliceWriting && s.w != nil {
				appended := s.w.Appended(stream)
				if appended < 0 {
					continue
				}
				if level != LevelLocal {
					return wm, known
				}
				durable := Offsets{}
				s.w.Offsets(durable, stream, true)
				if last, ok := durable[stream].Last(); ok {
					wm, known = max(wm, last), true
				}
				if last, _ := durable[stream].Last(); last != appended {
					return wm, known
				}
				continue
			}
			last, ok := s.rec.Stats.Streams[stream].Last()
			if !ok {
				continue
			}
			if s.level().rank() >= level.rank() {
				wm, known = max(wm, last), true
				continue
			}
			return wm, known
		}
	}
	return wm, known
}
