package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kbridge/kbridge/mapping"
)

// PutSource creates or updates a source. A settings change applies to its sinks' next files
// (as in Keboola, a source change does not rotate files).
func (m *Manager) PutSource(src Source) error {
	if err := src.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[src.Key]
	if ss == nil {
		src.Version = 1
		ss = &sourceState{pipes: map[string]*pipeline{}}
	} else if sameSource(ss.rec.Source, src) {
		return nil // a restart putting the same definition again is not a change
	} else {
		src.Version = ss.rec.Source.Version + 1
	}
	src.Updated = m.clk.Now()
	rec := sourceRecord{Source: src, Sinks: ss.rec.Sinks}
	for _, def := range rec.Sinks {
		if _, err := ResolveSettings(src.Settings, def.Settings); err != nil {
			return fmt.Errorf("source %s with sink %s: %w", src.Key, def.Key.SinkID, err)
		}
	}
	if err := saveSource(m.cfg.DataDir, &rec); err != nil {
		return err
	}
	ss.rec = rec
	m.sources[src.Key] = ss
	for _, p := range ss.pipes {
		p.setSource(src.Settings)
	}
	return nil
}

// DeleteSource removes a source; it must have no sinks left (deleted sinks still draining
// count as sinks until their data is imported).
func (m *Manager) DeleteSource(k SourceKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[k]
	if ss == nil {
		return fmt.Errorf("delete source %s: %w", k, ErrSourceNotFound)
	}
	if len(ss.rec.Sinks) > 0 {
		return fmt.Errorf("delete source %s: delete its %d sinks first", k, len(ss.rec.Sinks))
	}
	if err := removeSource(m.cfg.DataDir, k); err != nil {
		return err
	}
	delete(m.sources, k)
	return nil
}

// PutSink creates or updates a sink of an existing source. An update closes the sink's
// current file at once, so data waiting under the old conditions is imported now and new
// rows follow the new mapping and settings.
func (m *Manager) PutSink(def Sink) error {
	mp, err := def.Validate(m.cfg.Mapping)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[def.Key.SourceKey]
	if ss == nil {
		return fmt.Errorf("put sink %s: %w", def.Key, ErrSourceNotFound)
	}
	if _, err := ResolveSettings(ss.rec.Source.Settings, def.Settings); err != nil {
		return fmt.Errorf("sink %s: %w", def.Key, err)
	}
	i := slices.IndexFunc(ss.rec.Sinks, func(s Sink) bool { return s.Key == def.Key })
	rec := ss.rec
	rec.Sinks = slices.Clone(rec.Sinks)
	def.Updated, def.Deleted = m.clk.Now(), false
	if i < 0 {
		if countLive(rec.Sinks) >= MaxSinksPerSource {
			return fmt.Errorf("put sink %s: %w", def.Key, ErrTooManySinks)
		}
		def.Version = 1
		rec.Sinks = append(rec.Sinks, def)
	} else if sameSink(rec.Sinks[i], def) {
		return nil // the same definition again: no new version, the current file stays open
	} else {
		def.Version = rec.Sinks[i].Version + 1
		rec.Sinks[i] = def
	}
	if err := saveSource(m.cfg.DataDir, &rec); err != nil {
		return err
	}
	ss.rec = rec
	if p := ss.pipes[def.Key.SinkID]; p != nil {
		return p.update(&ss.rec.Source, def, mp)
	}
	return m.addPipeline(ss, def)
}

func countLive(sinks []Sink) int {
	n := 0
	for _, s := range sinks {
		if !s.Deleted {
			n++
		}
	}
	return n
}

// DeleteSink removes a sink from its source. Its data still waiting is imported first: the
// definition is kept (hidden) until then.
func (m *Manager) DeleteSink(k SinkKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[k.SourceKey]
	if ss == nil {
		return fmt.Errorf("delete sink %s: %w", k, ErrSourceNotFound)
	}
	i := slices.IndexFunc(ss.rec.Sinks, func(s Sink) bool { return s.Key == k && !s.Deleted })
	if i < 0 {
		return fmt.Errorf("delete sink %s: %w", k, ErrSinkNotFound)
	}
	rec := ss.rec
	rec.Sinks = slices.Clone(rec.Sinks)
	rec.Sinks[i].Deleted, rec.Sinks[i].Disabled, rec.Sinks[i].Updated = true, true, m.clk.Now()
	if err := saveSource(m.cfg.DataDir, &rec); err != nil {
		return err
	}
	ss.rec = rec
	if p := ss.pipes[k.SinkID]; p != nil {
		mp := p.currentMapping()
		return p.update(&ss.rec.Source, rec.Sinks[i], mp)
	}
	return nil
}

// Source returns a source definition.
func (m *Manager) Source(k SourceKey) (Source, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ss := m.sources[k]
	if ss == nil {
		return Source{}, false
	}
	return ss.rec.Source, true
}

// Sources lists the source definitions ordered by key.
func (m *Manager) Sources() []Source {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Source, 0, len(m.sources))
	for _, ss := range m.sources {
		out = append(out, ss.rec.Source)
	}
	slices.SortFunc(out, func(a, b Source) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// Sinks lists the sinks of a source (deleted ones omitted), in creation order.
func (m *Manager) Sinks(k SourceKey) ([]Sink, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ss := m.sources[k]
	if ss == nil {
		return nil, fmt.Errorf("list sinks of %s: %w", k, ErrSourceNotFound)
	}
	out := make([]Sink, 0, len(ss.rec.Sinks))
	for _, s := range ss.rec.Sinks {
		if !s.Deleted {
			out = append(out, s)
		}
	}
	return out, nil
}

// SinkSettings describes every setting of a sink (GET …/sinks/{id}/settings).
func (m *Manager) SinkSettings(k SinkKey) ([]SettingView, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ss := m.sources[k.SourceKey]
	if ss == nil {
		return nil, fmt.Errorf("sink settings %s: %w", k, ErrSourceNotFound)
	}
	for _, s := range ss.rec.Sinks {
		if s.Key == k && !s.Deleted {
			return DescribeSettings(ss.rec.Source.Settings, s.Settings), nil
		}
	}
	return nil, fmt.Errorf("sink settings %s: %w", k, ErrSinkNotFound)
}

// enabledPipelines are the pipelines writes of the source go to.
func (m *Manager) enabledPipelines(k SourceKey, dst []*pipeline) ([]*pipeline, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closing {
		return nil, ErrClosed
	}
	ss := m.sources[k]
	if ss == nil {
		return nil, fmt.Errorf("source %s: %w", k, ErrSourceNotFound)
	}
	if ss.rec.Source.Disabled {
		return nil, fmt.Errorf("source %s is disabled: %w", k, ErrNoEnabledSink)
	}
	for _, def := range ss.rec.Sinks {
		if !def.Disabled && !def.Deleted {
			dst = append(dst, ss.pipes[def.Key.SinkID])
		}
	}
	if len(dst) == 0 {
		return nil, fmt.Errorf("source %s: %w", k, ErrNoEnabledSink)
	}
	return dst, nil
}

func (p *pipeline) currentMapping() *mapping.Mapping {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mapping
}

// sameSource reports whether two source definitions differ in nothing but version and time.
func sameSource(a, b Source) bool {
	a.Version, a.Updated, b.Version, b.Updated = 0, time.Time{}, 0, time.Time{}
	return sameJSON(a, b)
}

// sameSink reports whether two sink definitions differ in nothing but version and time.
func sameSink(a, b Sink) bool {
	a.Version, a.Updated, b.Version, b.Updated = 0, time.Time{}, 0, time.Time{}
	return sameJSON(a, b)
}

func sameJSON(a, b any) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}
