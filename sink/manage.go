package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kbridge/kbridge/mapping"
)

// PutSource creates or updates a source; creating a deleted source's id revives it with the
// new content, its versions counting on. A settings change applies to its sinks' next files
// (as in Keboola, a source change does not rotate files). src.Change carries the version's
// description and author; the manager sets the version, times and hash. A new source's branch
// must exist in the Storage project (ErrBranchNotFound).
func (m *Manager) PutSource(src Source) error { return m.putSource(src, false) }

// CreateSource is PutSource for a source that must not exist: a live source of that key, one
// another replica created after the caller looked included, is ErrConflict (HTTP 409) rather
// than an update.
func (m *Manager) CreateSource(src Source) error { return m.putSource(src, true) }

func (m *Manager) putSource(src Source, create bool) error {
	if err := src.Validate(); err != nil {
		return err
	}
	m.mu.RLock()
	known := m.sources[src.Key]
	isNew := known == nil || known.rec.Source.Deleted
	m.mu.RUnlock()
	if isNew {
		ctx, cancel := context.WithTimeout(context.Background(), provisionTimeout)
		defer cancel()
		if _, err := m.branchClient(ctx, src.Key.BranchID); err != nil {
			return fmt.Errorf("source %s: %w", src.Key.SourceID, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[src.Key]
	var prev *History
	if create && ss != nil && !ss.rec.Source.Deleted {
		return fmt.Errorf("create source %s: %w", src.Key, ErrConflict)
	}
	if ss == nil {
		ss = &sourceState{pipes: map[string]*pipeline{}}
	} else if !ss.rec.Source.Deleted && sameSource(ss.rec.Source, src) {
		return nil // a restart putting the same definition again is not a change
	} else {
		prev = &ss.rec.Source.History
	}
	description := "Updated."
	if prev == nil || prev.Deleted {
		description = "New source."
	}
	src.nextVersion(prev, m.event(src.Change.By), description)
	src.Change.Hash = src.contentHash()
	rec := sourceRecord{Source: src, Sinks: ss.rec.Sinks}
	for _, def := range rec.Sinks {
		if _, err := ResolveSettings(src.Settings, def.Settings); err != nil {
			return fmt.Errorf("source %s with sink %s: %w", src.Key, def.Key.SinkID, err)
		}
	}
	if err := m.saveSource(ss, &rec, &rec.Source, nil); err != nil {
		return err
	}
	ss.rec = rec
	m.sources[src.Key] = ss
	for _, p := range ss.pipes {
		p.setSource(src.Settings)
	}
	return nil
}

// event is a change made now by by (kbridge itself when by is empty).
func (m *Manager) event(by Actor) Event {
	if by.Type == "" {
		by = System
	}
	return Event{At: m.clk.Now(), By: by}
}

// saveSource stores rec as the record of ss, moving ss's version, and a copy of each new
// version: of src and of the sinks given. The caller holds mu and sets ss.rec after.
func (m *Manager) saveSource(ss *sourceState, rec *sourceRecord, src *Source, sinks []Sink) error {
	v, err := m.defs.save(rec, ss.version)
	if err != nil {
		return err
	}
	if err := m.saveVersions(src, sinks); err != nil {
		return err // ss keeps its version: a shared record is applied from the log instead
	}
	ss.version = v
	return nil
}

// saveVersions keeps a copy of each version given, without secrets.
func (m *Manager) saveVersions(src *Source, sinks []Sink) error {
	if src != nil {
		v := *src
		v.Secret = ""
		if err := saveVersion(sourceVersionsDir(m.cfg.DataDir, v.Key), v.Version, v); err != nil {
			return fmt.Errorf("source %s: %w", v.Key, err)
		}
	}
	for _, def := range sinks {
		def.Token = nil // versions keep no secret
		if err := saveVersion(sinkVersionsDir(m.cfg.DataDir, def.Key), def.Version, def); err != nil {
			return fmt.Errorf("sink %s: %w", def.Key, err)
		}
	}
	return nil
}

// PutSink creates or updates a sink of an existing source; creating a deleted sink's id
// revives it. An update closes the sink's current file at once, so data waiting under the old
// conditions is imported now and new rows follow the new mapping and settings.
//
// Before it is stored, Storage is prepared for it (see provision): the branch is checked, the
// table created, grown or checked (a table with other columns is a *TableError) and the sink
// given its own token; a token given up is deleted after the definition is stored.
func (m *Manager) PutSink(def Sink) error { return m.putSinkDef(def, false) }

// CreateSink is PutSink for a sink that must not exist: a live sink of that key, one another
// replica created after the caller looked included, is ErrConflict (HTTP 409) rather than an
// update.
func (m *Manager) CreateSink(def Sink) error { return m.putSinkDef(def, true) }

func (m *Manager) putSinkDef(def Sink, create bool) error {
	mp, err := def.Validate(m.cfg.Mapping)
	if err != nil {
		return err
	}
	def.Token = nil // only the manager makes tokens
	m.mu.RLock()
	prev, found, err := m.sinkForPut(def.Key)
	m.mu.RUnlock()
	if err != nil {
		return err
	}
	if create && found && !prev.Deleted {
		return fmt.Errorf("create sink %s: %w", def.Key, ErrConflict)
	}
	if found && !prev.Deleted && sameSink(prev, def) {
		return nil // the same definition again: no new version, the current file stays open
	}
	var previous *Sink
	if found {
		previous = &prev
	}
	ctx, cancel := context.WithTimeout(context.Background(), provisionTimeout)
	defer cancel()
	retire, created, err := m.provision(ctx, &def, previous, mp)
	if err != nil {
		return err
	}
	if err := m.putSink(def, mp, create); err != nil {
		m.deleteTokens(created)
		return err
	}
	m.deleteTokens(retire)
	return nil
}

// sinkForPut is the stored definition of the sink, deleted or not; the caller holds mu.
func (m *Manager) sinkForPut(k SinkKey) (Sink, bool, error) {
	ss := m.sources[k.SourceKey]
	if ss == nil || ss.rec.Source.Deleted {
		return Sink{}, false, fmt.Errorf("put sink %s: %w", k, ErrSourceNotFound)
	}
	i := slices.IndexFunc(ss.rec.Sinks, func(s Sink) bool { return s.Key == k })
	if i < 0 {
		return Sink{}, false, nil
	}
	return ss.rec.Sinks[i], true, nil
}

// putSink stores a provisioned definition; with create, one whose sink exists is ErrConflict.
func (m *Manager) putSink(def Sink, mp *mapping.Mapping, create bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[def.Key.SourceKey]
	if ss == nil || ss.rec.Source.Deleted {
		return fmt.Errorf("put sink %s: %w", def.Key, ErrSourceNotFound)
	}
	if _, err := ResolveSettings(ss.rec.Source.Settings, def.Settings); err != nil {
		return fmt.Errorf("sink %s: %w", def.Key, err)
	}
	i := slices.IndexFunc(ss.rec.Sinks, func(s Sink) bool { return s.Key == def.Key })
	if create && i >= 0 && !ss.rec.Sinks[i].Deleted {
		return fmt.Errorf("create sink %s: %w", def.Key, ErrConflict)
	}
	rec := ss.rec
	rec.Sinks = slices.Clone(rec.Sinks)
	var prev *History
	switch {
	case i < 0 && countLive(rec.Sinks) >= MaxSinksPerSource:
		return fmt.Errorf("put sink %s: %w", def.Key, ErrTooManySinks)
	case i >= 0:
		prev = &rec.Sinks[i].History
	}
	description := "Updated."
	if prev == nil || prev.Deleted {
		description = "New sink."
	}
	def.nextVersion(prev, m.event(def.Change.By), description)
	def.Change.Hash = def.contentHash()
	if i < 0 {
		rec.Sinks = append(rec.Sinks, def)
	} else {
		rec.Sinks[i] = def
	}
	if err := m.saveSource(ss, &rec, nil, []Sink{def}); err != nil {
		return err
	}
	ss.rec = rec
	if p := ss.pipes[def.Key.SinkID]; p != nil {
		return p.update(&ss.rec.Source, def, mp)
	}
	return m.addPipeline(ss, def, mp)
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

// Source returns a source definition.
func (m *Manager) Source(k SourceKey) (Source, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ss := m.sources[k]
	if ss == nil || ss.rec.Source.Deleted {
		return Source{}, false
	}
	return ss.rec.Source, true
}

// Sources lists the source definitions (deleted ones omitted) ordered by key.
func (m *Manager) Sources() []Source { return m.listSources(false) }

func (m *Manager) listSources(deleted bool) []Source {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Source, 0, len(m.sources))
	for _, ss := range m.sources {
		if ss.rec.Source.Deleted == deleted {
			out = append(out, ss.rec.Source)
		}
	}
	slices.SortFunc(out, func(a, b Source) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// Sinks lists the sinks of a source (deleted ones omitted), in creation order.
func (m *Manager) Sinks(k SourceKey) ([]Sink, error) { return m.listSinks(k, false) }

func (m *Manager) listSinks(k SourceKey, deleted bool) ([]Sink, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ss := m.sources[k]
	if ss == nil || ss.rec.Source.Deleted {
		return nil, fmt.Errorf("list sinks of %s: %w", k, ErrSourceNotFound)
	}
	out := make([]Sink, 0, len(ss.rec.Sinks))
	for _, s := range ss.rec.Sinks {
		if s.Deleted == deleted {
			out = append(out, s)
		}
	}
	return out, nil
}

// SinkSettings describes every setting of a sink (GET …/sinks/{id}/settings).
func (m *Manager) SinkSettings(k SinkKey) ([]SettingView, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, err := m.liveSink(k)
	if err != nil {
		return nil, fmt.Errorf("sink settings: %w", err)
	}
	ss := m.sources[k.SourceKey]
	return DescribeSettings(ss.rec.Source.Settings, ss.rec.Sinks[i].Settings), nil
}

// enabledPipelines are the pipelines writes of the source go to.
func (m *Manager) enabledPipelines(k SourceKey, dst []*pipeline) ([]*pipeline, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closing {
		return nil, ErrClosed
	}
	ss := m.sources[k]
	if ss == nil || ss.rec.Source.Deleted {
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

// sameSource reports whether two source definitions differ in nothing but their history.
func sameSource(a, b Source) bool {
	a.History, b.History = History{}, History{}
	return sameJSON(a, b)
}

// sameSink reports whether two sink definitions differ in nothing but their history.
func sameSink(a, b Sink) bool {
	a.History, b.History = History{}, History{}
	a.Token, b.Token = nil, nil
	return sameJSON(a, b)
}

func sameJSON(a, b any) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}
