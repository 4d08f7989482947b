package sink

import (
	"fmt"
	"slices"
)

// Deletion is soft, as in Keboola: a deleted source or sink is hidden from the lists and
// lookups, listed by DeletedSources and DeletedSinks, and can be undeleted or created again
// (which revives its id with the new content, its versions counting on). A deleted sink's
// pipeline keeps importing the data that was waiting; it takes no new events.

// DeleteSource deletes a source and with it every sink it has (they are undeleted with it).
// The sinks' tokens are deleted.
func (m *Manager) DeleteSource(k SourceKey, by Actor) error {
	tokens, err := m.deleteSource(k, by)
	if err == nil {
		m.deleteTokens(tokens...)
	}
	return err
}

func (m *Manager) deleteSource(k SourceKey, by Actor) ([]*SinkToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[k]
	if ss == nil || ss.rec.Source.Deleted {
		return nil, fmt.Errorf("delete source %s: %w", k, ErrSourceNotFound)
	}
	now := m.event(by)
	rec := ss.rec
	rec.Source.Deleted, rec.Source.DeletedAt = true, &now
	rec.Sinks = slices.Clone(rec.Sinks)
	var tokens []*SinkToken
	for i := range rec.Sinks {
		if !rec.Sinks[i].Deleted {
			rec.Sinks[i].Deleted, rec.Sinks[i].DeletedAt, rec.Sinks[i].DeletedWithSource = true, &now, true
			tokens = append(tokens, rec.Sinks[i].Token)
			rec.Sinks[i].Token = nil
		}
	}
	return tokens, m.replace(ss, rec, nil, nil)
}

// DeleteSink deletes a sink; its data still waiting is imported. Its token is deleted.
func (m *Manager) DeleteSink(k SinkKey, by Actor) error {
	token, err := m.deleteSink(k, by)
	if err == nil {
		m.deleteTokens(token)
	}
	return err
}

func (m *Manager) deleteSink(k SinkKey, by Actor) (*SinkToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, err := m.liveSink(k)
	if err != nil {
		return nil, fmt.Errorf("delete %w", err)
	}
	ss := m.sources[k.SourceKey]
	now := m.event(by)
	rec := ss.rec
	rec.Sinks = slices.Clone(rec.Sinks)
	token := rec.Sinks[i].Token
	rec.Sinks[i].Deleted, rec.Sinks[i].DeletedAt, rec.Sinks[i].Token = true, &now, nil
	return token, m.replace(ss, rec, nil, nil)
}

// UndeleteSource undeletes a deleted source and the sinks deleted with it; each gets a new
// version and a new token.
func (m *Manager) UndeleteSource(k SourceKey, by Actor) error {
	sinks, err := m.undeleteSource(k, by)
	if err == nil {
		m.issueTokens(sinks...)
	}
	return err
}

func (m *Manager) undeleteSource(k SourceKey, by Actor) ([]SinkKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[k]
	if ss == nil || !ss.rec.Source.Deleted {
		return nil, fmt.Errorf("undelete source %s: %w", k, ErrSourceNotFound)
	}
	now := m.event(by)
	rec := ss.rec
	undelete(&rec.Source.History, now)
	rec.Source.Change.Hash = rec.Source.contentHash()
	rec.Sinks = slices.Clone(rec.Sinks)
	var sinks []Sink
	var keys []SinkKey
	for i := range rec.Sinks {
		if rec.Sinks[i].DeletedWithSource {
			undelete(&rec.Sinks[i].History, now)
			rec.Sinks[i].Change.Hash = rec.Sinks[i].contentHash()
			sinks = append(sinks, rec.Sinks[i])
			keys = append(keys, rec.Sinks[i].Key)
		}
	}
	return keys, m.replace(ss, rec, &rec.Source, sinks)
}

// UndeleteSink undeletes a deleted sink of an existing source; it gets a new token.
func (m *Manager) UndeleteSink(k SinkKey, by Actor) error {
	err := m.undeleteSink(k, by)
	if err == nil {
		m.issueTokens(k)
	}
	return err
}

func (m *Manager) undeleteSink(k SinkKey, by Actor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[k.SourceKey]
	if ss == nil || ss.rec.Source.Deleted {
		return fmt.Errorf("undelete sink %s: %w", k, ErrSourceNotFound)
	}
	i := slices.IndexFunc(ss.rec.Sinks, func(s Sink) bool { return s.Key == k && s.Deleted })
	if i < 0 {
		return fmt.Errorf("undelete sink %s: %w", k, ErrSinkNotFound)
	}
	if countLive(ss.rec.Sinks) >= MaxSinksPerSource {
		return fmt.Errorf("undelete sink %s: %w", k, ErrTooManySinks)
	}
	rec := ss.rec
	rec.Sinks = slices.Clone(rec.Sinks)
	undelete(&rec.Sinks[i].History, m.event(by))
	rec.Sinks[i].Change.Hash = rec.Sinks[i].contentHash()
	return m.replace(ss, rec, nil, rec.Sinks[i:i+1])
}

// undelete makes h the next version, not deleted, described as Keboola describes it.
func undelete(h *History, now Event) {
	prev := h.Version
	h.Deleted, h.DeletedAt, h.DeletedWithSource = false, nil, false
	h.Version, h.Updated = prev+1, now.At
	h.Change = Change{Description: fmt.Sprintf("Undeleted to version %q.", fmt.Sprint(prev)), By: now.By}
}

// replace stores rec (with the new versions given) as the source's record and hands each
// sink definition that changed to its pipeline; the caller holds mu.
func (m *Manager) replace(ss *sourceState, rec sourceRecord, src *Source, sinks []Sink) error {
	if err := m.saveSource(ss, &rec, src, sinks); err != nil {
		return err
	}
	old := ss.rec.Sinks
	ss.rec = rec
	for i, def := range rec.Sinks {
		p := ss.pipes[def.Key.SinkID]
		if p == nil || (i < len(old) && old[i].Deleted == def.Deleted && old[i].Version == def.Version) {
			continue
		}
		if err := p.update(&ss.rec.Source, def, p.currentMapping()); err != nil {
			return err
		}
	}
	return nil
}

// DeletedSources lists the deleted sources ordered by key.
func (m *Manager) DeletedSources() []Source { return m.listSources(true) }

// DeletedSinks lists the deleted sinks of an existing source, in creation order.
func (m *Manager) DeletedSinks(k SourceKey) ([]Sink, error) { return m.listSinks(k, true) }
