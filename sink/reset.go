package sink

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// statisticsRecord is a sink's statistics reset point, kept in <sink dir>/statistics.json:
// files with ids from FromFile on count (file ids increase strictly with opening time).
type statisticsRecord struct {
	ResetAt  time.Time `json:"resetAt"`
	FromFile string    `json:"fromFile"`
}

func (p *pipeline) statisticsPath() string { return filepath.Join(p.dir, "statistics.json") }

// loadReset reads the sink's statistics reset point, if it has one.
func (p *pipeline) loadReset() error {
	var rec statisticsRecord
	if err := durable.Read(p.statisticsPath(), &rec); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sink %s: statistics reset: %w", p.key, err)
	}
	p.resetFrom = rec.FromFile
	return nil
}

// ClearStatistics restarts the sink's statistics from zero, as Keboola's statistics/clear
// does: files opened before now no longer appear in SinkStatistics or SinkFiles. The file being
// written is closed at once (its rows are imported as after a definition change), so every
// row written from now on is counted. The data itself is untouched.
func (m *Manager) ClearStatistics(k SinkKey) error {
	p, err := m.pipeline(k)
	if err != nil {
		return err
	}
	_, err = p.clearStatistics()
	return err
}

// ClearSourceStatistics clears the statistics of every sink of the source.
func (m *Manager) ClearSourceStatistics(k SourceKey) error {
	m.mu.RLock()
	ss := m.sources[k]
	var pipes []*pipeline
	if ss != nil {
		for _, p := range ss.pipes {
			pipes = append(pipes, p)
		}
	}
	m.mu.RUnlock()
	if ss == nil {
		return fmt.Errorf("source %s: %w", k, ErrSourceNotFound)
	}
	var errs []error
	for _, p := range pipes {
		_, err := p.clearStatistics()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// clearStatistics makes the reset point a new file: the one it opens when the sink runs, else
// an id reserved now, which every later file exceeds. It returns the reset point.
func (p *pipeline) clearStatistics() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resetLocked("")
}

// resetLocked moves the reset point to a new file whose id is above after (another member's
// reset point, "" for none): the file writes go to is closed and a new one opened, or, when
// the sink does not run, an id is reserved. p.mu is held.
func (p *pipeline) resetLocked(after string) (string, error) {
	if t, err := time.Parse(idLayout, after); err == nil && t.After(p.lastID) {
		p.lastID = t // a clock behind the other member's still opens a file above its point
	}
	now := p.m.clk.Now()
	var from string
	if cur := p.cur.Load(); cur != nil && !p.stopped {
		if err := p.rotateLocked(true); err != nil {
			return "", fmt.Errorf("sink %s: statistics reset: close the current file: %w", p.key, err)
		}
		from = p.cur.Load().file.rec.ID
	} else {
		from = nextID(now, &p.lastID)
	}
	if err := durable.Write(p.statisticsPath(), statisticsRecord{ResetAt: now, FromFile: from}); err != nil {
		return "", fmt.Errorf("sink %s: statistics reset: %w", p.key, err)
	}
	p.resetFrom = from
	return from, nil
}

// clearStatisticsSince applies another member's reset point from: when the sink counts a file
// opened before it, the statistics restart from a new file above it (as ClearStatistics, and
// whatever this machine's clock says); otherwise the sink applied that reset already or began
// after it, and nothing changes.
func (m *Manager) clearStatisticsSince(k SinkKey, from string) error {
	p, err := m.pipeline(k)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !slices.ContainsFunc(p.files, func(f *fileEntry) bool { return p.countedLocked(f) && f.rec.ID < from }) {
		return nil
	}
	_, err = p.resetLocked(from)
	return err
}

// countedLocked tells whether f counts in the statistics: opened since the last reset.
func (p *pipeline) countedLocked(f *fileEntry) bool {
	return f.rec.ID >= p.resetFrom
}
