package sink

import (
	"context"
	"fmt"
	"slices"

	"github.com/kbridge/kbridge/mapping"
)

// followShared applies the changes other replicas make to the shared definitions until ctx
// ends: a new source or sink gets its pipeline, a changed one is handed its new definition, a
// deleted one stops taking events (its waiting data is still imported), as if the change had
// been made through this replica. Run owns it.
func (m *Manager) followShared(ctx context.Context) {
	for {
		changes, err := m.shared.next(ctx)
		if err != nil {
			return
		}
		for _, c := range changes {
			if err := m.applyShared(c); err != nil {
				m.log.Error("shared definition not applied", "source", c.key.String(), "version", c.version, "error", err)
			}
		}
	}
}

// ApplySharedChanges applies at once the changes of the shared log queued so far, for a caller
// that must see other replicas' writes before Run follows the log: the daemon putting the
// configured sources at start, after losing a race to a replica putting the same ones. It is a
// no-op without shared definitions. A change is applied by its version, so one applied here and
// again by Run is skipped the second time.
func (m *Manager) ApplySharedChanges() {
	if m.shared == nil {
		return
	}
	for _, c := range m.shared.take() {
		if err := m.applyShared(c); err != nil {
			m.log.Error("shared definition not applied", "source", c.key.String(), "version", c.version, "error", err)
		}
	}
}

// applyShared applies one change of the log. A change this replica has already (its own
// write, or the state it loaded at New) is skipped by its version.
func (m *Manager) applyShared(c sharedChange) error {
	if c.value == nil {
		// kbridge deletes softly (a record marked deleted) and never removes a key.
		m.log.Warn("shared definition removed from the log; ignored", "source", c.key.String())
		return nil
	}
	rec, err := m.shared.decode(c.key, c.value)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return nil
	}
	ss := m.sources[c.key]
	if ss != nil && ss.version >= c.version {
		return nil
	}
	if ss == nil {
		ss = &sourceState{pipes: map[string]*pipeline{}}
		m.sources[c.key] = ss
	}
	old := ss.rec
	ss.rec, ss.version = *rec, c.version
	m.keepSharedVersions(old, *rec)
	var errs []error
	for _, def := range ss.rec.Sinks {
		if err := m.applySharedSink(ss, old.Sinks, def); err != nil {
			errs = append(errs, err)
		}
	}
	if !sameJSON(old.Source.Settings, rec.Source.Settings) {
		for _, p := range ss.pipes {
			p.setSource(ss.rec.Source.Settings)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("source %s: %v", c.key, errs)
	}
	return nil
}

// applySharedSink hands def to its pipeline, or starts one for a sink new to this replica; the
// caller holds mu.
func (m *Manager) applySharedSink(ss *sourceState, old []Sink, def Sink) error {
	p := ss.pipes[def.Key.SinkID]
	if p == nil {
		mp, err := def.validate(m.cfg.Mapping, mapping.CompileStored)
		if err != nil {
			return err
		}
		return m.addPipeline(ss, def, mp)
	}
	i := slices.IndexFunc(old, func(s Sink) bool { return s.Key == def.Key })
	if i >= 0 && old[i].Version == def.Version && old[i].Deleted == def.Deleted {
		p.mu.Lock()
		p.def.Token = def.Token // a token issued without a new version
		p.mu.Unlock()
		return nil
	}
	mp := p.currentMapping()
	if i < 0 || !sameJSON(old[i].Columns, def.Columns) {
		var err error
		if mp, err = def.validate(m.cfg.Mapping, mapping.CompileStored); err != nil {
			return err
		}
	}
	return p.update(&ss.rec.Source, def, mp)
}

// keepSharedVersions keeps this replica's copies of the versions a change made, for the
// versions API; a failure is logged, the definition applies anyway.
func (m *Manager) keepSharedVersions(old, rec sourceRecord) {
	var src *Source
	if old.Source.Version != rec.Source.Version {
		src = &rec.Source
	}
	var sinks []Sink
	for _, def := range rec.Sinks {
		i := slices.IndexFunc(old.Sinks, func(s Sink) bool { return s.Key == def.Key })
		if i < 0 || old.Sinks[i].Version != def.Version {
			sinks = append(sinks, def)
		}
	}
	if err := m.saveVersions(src, sinks); err != nil {
		m.log.Warn("version copy of a shared definition not kept", "source", rec.Source.Key.String(), "error", err)
	}
}
