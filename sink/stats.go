package sink

import (
	"fmt"
	"slices"
	"time"

	"github.com/kbridge/kbridge/sink/local"
)

// Time is a time the API shows as Keboola does: UTC, RFC 3339 with milliseconds
// ("2024-04-28T14:20:04.123Z").
type Time struct{ time.Time }

// TimeFormat is Keboola's time format.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the time in TimeFormat.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(TimeFormat) + `"`), nil
}

// LevelStatistics is Keboola's statistics "Level" shape.
type LevelStatistics struct {
	FirstRecordAt    *Time `json:"firstRecordAt,omitempty"`
	LastRecordAt     *Time `json:"lastRecordAt,omitempty"`
	RecordsCount     int64 `json:"recordsCount"`
	CompressedSize   int64 `json:"compressedSize"`
	UncompressedSize int64 `json:"uncompressedSize"`
}

// Levels holds the statistics per level; a level without records is omitted.
type Levels struct {
	Local   *LevelStatistics `json:"local,omitempty"`
	Staging *LevelStatistics `json:"staging,omitempty"`
	Target  *LevelStatistics `json:"target,omitempty"`
}

// Statistics is the body of GET …/sinks/{id}/statistics/total.
type Statistics struct {
	Total  LevelStatistics `json:"total"`
	Levels Levels          `json:"levels"`
}

// FileStatistics is one entry of GET …/sinks/{id}/statistics/files.
type FileStatistics struct {
	ID           string     `json:"id"`
	State        string     `json:"state"`
	OpenedAt     Time       `json:"openedAt"`
	ClosingAt    *Time      `json:"closingAt,omitempty"`
	ImportingAt  *Time      `json:"importingAt,omitempty"`
	ImportedAt   *Time      `json:"importedAt,omitempty"`
	RetryAttempt int        `json:"retryAttempt,omitempty"`
	RetryReason  string     `json:"retryReason,omitempty"`
	RetryAfter   *Time      `json:"retryAfter,omitempty"`
	JobID        int64      `json:"jobId,omitempty"`
	Slices       int        `json:"slices"`
	Statistics   Statistics `json:"statistics"`
}

// SinkStatistics returns the sink's totals per level, over the files it still lists that were
// opened since the last ClearStatistics.
func (m *Manager) SinkStatistics(k SinkKey) (Statistics, error) {
	p, err := m.pipeline(k)
	if err != nil {
		return Statistics{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var acc [4]local.Stats
	for _, f := range p.files {
		if p.countedLocked(f) {
			f.addLevels(&acc)
		}
	}
	return toStatistics(acc), nil
}

// SinkFiles lists the sink's files: imported first, then those without a retry, then by
// opening time. failedOnly keeps the non-imported files with at least one failed attempt
// (their own or a slice's upload).
func (m *Manager) SinkFiles(k SinkKey, failedOnly bool) ([]FileStatistics, error) {
	p, err := m.pipeline(k)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]FileStatistics, 0, len(p.files))
	for _, f := range p.files {
		if !p.countedLocked(f) {
			continue
		}
		fs := f.statistics()
		if failedOnly && !failedFile(fs) {
			continue
		}
		out = append(out, fs)
	}
	sortFiles(out)
	return out, nil
}

// failedFile tells a file failedFiles=true lists: not imported, with at least one failed attempt.
func failedFile(f FileStatistics) bool { return f.State != FileImported && f.RetryAttempt != 0 }

// sortFiles orders files as SinkFiles lists them.
func sortFiles(files []FileStatistics) {
	slices.SortStableFunc(files, func(a, b FileStatistics) int {
		ra, rb := fileRank(a), fileRank(b)
		if ra != rb {
			return ra - rb
		}
		return a.OpenedAt.Compare(b.OpenedAt.Time)
	})
}

func fileRank(f FileStatistics) int {
	switch {
	case f.State == FileImported:
		return 0
	case f.RetryReason == "":
		return 1
	}
	return 2
}

func (m *Manager) pipeline(k SinkKey) (*pipeline, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ss := m.sources[k.SourceKey]
	if ss == nil {
		return nil, fmt.Errorf("sink %s: %w", k, ErrSourceNotFound)
	}
	p := ss.pipes[k.SinkID]
	if p == nil {
		return nil, fmt.Errorf("sink %s: %w", k, ErrSinkNotFound)
	}
	return p, nil
}

// addLevels adds the file's slices to acc by level rank; the caller holds the pipeline's mu.
func (f *fileEntry) addLevels(acc *[4]local.Stats) {
	if f.rec.State == FileImported {
		addStats(&acc[LevelTarget.rank()], f.rec.Stats)
		return
	}
	for _, s := range f.slices {
		addStats(&acc[s.level().rank()], s.stats())
	}
}

func (f *fileEntry) statistics() FileStatistics {
	out := FileStatistics{ID: f.rec.ID, State: f.rec.State, OpenedAt: Time{f.rec.OpenedAt}, Slices: f.sliceCount(),
		ClosingAt: timePtr(f.rec.ClosingAt), ImportingAt: timePtr(f.rec.ImportingAt), ImportedAt: timePtr(f.rec.ImportedAt),
		JobID: f.rec.JobID}
	retry := f.rec.Retry
	for _, s := range f.slices {
		if s.rec.Retry.Attempt > retry.Attempt {
			retry = s.rec.Retry // a slice's failing upload shows on its file
		}
	}
	out.RetryAttempt, out.RetryReason, out.RetryAfter = retry.Attempt, retry.Reason, timePtr(retry.After)
	var acc [4]local.Stats
	f.addLevels(&acc)
	out.Statistics = toStatistics(acc)
	return out
}

func toStatistics(acc [4]local.Stats) Statistics {
	var total local.Stats
	for _, st := range acc[1:] {
		addStats(&total, st)
	}
	return Statistics{Total: levelStatistics(total), Levels: Levels{
		Local: levelPtr(acc[LevelLocal.rank()]), Staging: levelPtr(acc[LevelStaging.rank()]), Target: levelPtr(acc[LevelTarget.rank()]),
	}}
}

func levelStatistics(st local.Stats) LevelStatistics {
	return LevelStatistics{FirstRecordAt: timePtr(st.FirstRecordAt), LastRecordAt: timePtr(st.LastRecordAt),
		RecordsCount: st.Records, CompressedSize: st.CompressedSize, UncompressedSize: st.UncompressedSize}
}

func levelPtr(st local.Stats) *LevelStatistics {
	if st.Records == 0 {
		return nil
	}
	l := levelStatistics(st)
	return &l
}

func timePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	return &Time{t}
}
