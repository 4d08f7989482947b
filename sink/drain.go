package sink

import (
	"context"
	"errors"
	"fmt"
)

// Drain moves everything the local level holds into the tables, for a replica that is going
// away with its volume (scaling in): every sink stops taking writes, its slice and file are
// closed at once whatever their triggers say, and Drain waits until every file is imported. It
// returns nil then, or an error with the number of files left when ctx ends first; those stay
// on the volume, where the next start picks them up. Writes fail from the call on, so the
// callers stop writing first (the intake and every Kafka consumer). The levels keep running
// until Close.
func (m *Manager) Drain(ctx context.Context) error {
	m.mu.RLock()
	running := m.ctx != nil && !m.closing
	m.mu.RUnlock()
	if !running {
		return errors.New("drain: the sink manager is not running")
	}
	for {
		progress := m.Progress() // before counting: an import between the two is not missed
		m.mu.RLock()
		pipes := m.allPipelines() // again each time: a replica may have added a sink meanwhile
		m.mu.RUnlock()
		files, records := 0, int64(0)
		for _, p := range pipes {
			n, r := p.drain()
			files, records = files+n, records+r
		}
		if files == 0 {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("drain: %d files with %d records not imported: %w", files, records, context.Cause(ctx))
		}
	}
}

// drain ends the sink's writes, closes its writing file for import and returns how many of
// its files, holding how many records, are not imported yet.
func (p *pipeline) drain() (files int, records int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	now := p.m.clk.Now()
	if s := p.cur.Swap(nil); s != nil {
		p.closeSliceLocked(s, now)
		kick(p.kickUpload)
	}
	if f := p.writingFileLocked(); f != nil {
		f.rec.State, f.rec.ClosingAt = FileClosing, now
		if err := f.persist(); err != nil {
			p.log.Error("close file", "file", f.rec.ID, "error", err)
		}
		p.maybeImportingLocked(f, now)
	}
	for _, f := range p.files {
		if f.rec.State != FileImported {
			files++
			records += p.fileStatsLocked(f).Records
		}
	}
	return files, records
}
