package sink

import (
	"math"

	"github.com/kbridge/kbridge/sink/local"
)

// Recovered returns, per stream, the highest offset on local disk (or already imported and
// still listed) in every enabled sink of the source: the Kafka bridge skips records up to it
// after a restart instead of writing them again. A stream missing from any sink is omitted.
func (m *Manager) Recovered(source SourceKey) (map[string]int64, error) {
	pipes, err := m.enabledPipelines(source, nil)
	if err != nil {
		return nil, err
	}
	var out map[string]int64
	for _, p := range pipes {
		highest := p.highestOffsets()
		if out == nil {
			out = highest
			continue
		}
		for k, v := range out {
			if h, ok := highest[k]; ok {
				out[k] = min(v, h)
			} else {
				delete(out, k)
			}
		}
	}
	return out, nil
}

func (p *pipeline) highestOffsets() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int64{}
	for k, v := range p.pruned {
		out[k] = v
	}
	for _, f := range p.files {
		if f.rec.State == FileImported {
			mergeHighest(out, f.rec.Stats)
			continue
		}
		for _, s := range f.slices {
			mergeHighest(out, s.stats())
		}
	}
	return out
}

func mergeHighest(out map[string]int64, st local.Stats) {
	for k, r := range st.Streams {
		if v, ok := out[k]; !ok || r.Last > v {
			out[k] = r.Last
		}
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
	wm, known := p.pruned[stream]
	for _, f := range p.files {
		if f.rec.State == FileImported {
			if r, ok := f.rec.Stats.Streams[stream]; ok {
				wm, known = max(wm, r.Last), true
			}
			continue
		}
		for _, s := range f.slices {
			st := s.stats()
			r, ok := st.Streams[stream]
			if !ok {
				continue
			}
			if s.level().rank() >= level.rank() && (s.rec.State != SliceWriting || level != LevelLocal) {
				wm, known = max(wm, r.Last), true
				continue
			}
			if level == LevelLocal && s.rec.State == SliceWriting && s.w != nil {
				if synced, ok := s.w.Synced(stream); ok {
					wm, known = max(wm, synced), true
				}
			}
			return wm, known
		}
	}
	return wm, known
}
