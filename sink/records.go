package sink

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/sink/retry"
	"github.com/kbridge/kbridge/sink/target"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/durable"
)

// File states (Keboola's): writing → closing → importing → imported.
const (
	FileWriting   = "writing"
	FileClosing   = "closing"
	FileImporting = "importing"
	FileImported  = "imported"
)

// Slice states (Keboola's): writing → closing → uploading → uploaded → imported. closing lasts
// only while the final sync runs and is never persisted.
const (
	SliceWriting   = "writing"
	SliceClosing   = "closing"
	SliceUploading = "uploading"
	SliceUploaded  = "uploaded"
	SliceImported  = "imported"
)

// fileRecord is file.json in a file directory.
type fileRecord struct {
	ID          string           `json:"id"`
	State       string           `json:"state"`
	OpenedAt    time.Time        `json:"openedAt"`
	ClosingAt   time.Time        `json:"closingAt,omitzero"`
	ImportingAt time.Time        `json:"importingAt,omitzero"`
	ImportedAt  time.Time        `json:"importedAt,omitzero"`
	Table       target.Table     `json:"table"`
	Staging     *storageapi.File `json:"stagingFile,omitempty"`
	JobID       int64            `json:"jobId,omitempty"`
	// ImportStartedAt is set, and made durable, before an import job is requested: with no
	// JobID it means the job may exist though its id never reached the disk.
	ImportStartedAt time.Time   `json:"importStartedAt,omitzero"`
	Retry           retry.State `json:"retry"`
	// Stats are the totals of the slices, kept when their records are gone.
	Stats local.Stats `json:"stats"`
}

// sliceRecord is <sliceID>.json beside the slice's data file.
type sliceRecord struct {
	ID          string      `json:"id"`
	State       string      `json:"state"`
	Ext         string      `json:"ext"`
	OpenedAt    time.Time   `json:"openedAt"`
	UploadingAt time.Time   `json:"uploadingAt,omitzero"`
	UploadedAt  time.Time   `json:"uploadedAt,omitzero"`
	Stats       local.Stats `json:"stats"`
	Retry       retry.State `json:"retry"`
}

// fileEntry is a file in memory; rec and slices are guarded by the pipeline's mu.
type fileEntry struct {
	rec      fileRecord
	dir      string
	mapping  *mapping.Mapping // set for the file being written
	pool     sync.Pool        // *renderState for mapping
	slices   []*sliceEntry
	dropped  int // slice entries let go once the file was imported (their stats are in rec)
	imported chan struct{}
	busy     bool             // an import worker has it
	ring     *durable.Keyring // seals the record: it holds the staging file's upload credentials
}

// sliceEntry is a slice in memory; rec is guarded by the pipeline's mu, w and file never change.
type sliceEntry struct {
	rec      sliceRecord
	file     *fileEntry
	path     string
	w        *local.Slice // only for a slice opened by this process
	uploaded chan struct{}
}

// dropSlices lets the slice entries of an imported file go: the file keeps only its record
// (the slices' totals are in rec.Stats) until it is pruned.
func (f *fileEntry) dropSlices() {
	f.dropped += len(f.slices)
	f.slices = nil
}

// sliceCount is the number of slices the file had, dropped ones included.
func (f *fileEntry) sliceCount() int { return f.dropped + len(f.slices) }

func (f *fileEntry) recordPath() string { return filepath.Join(f.dir, "file.json") }

func (f *fileEntry) persist() error {
	if err := durable.WriteSealed(f.recordPath(), &f.rec, f.ring); err != nil {
		return fmt.Errorf("persist file %s: %w", f.rec.ID, err)
	}
	return nil
}

func (s *sliceEntry) recordPath() string { return filepath.Join(s.file.dir, s.rec.ID+".json") }

func (s *sliceEntry) persist() error {
	if err := durable.Write(s.recordPath(), &s.rec); err != nil {
		return fmt.Errorf("persist slice %s: %w", s.rec.ID, err)
	}
	return nil
}

// objectName is the slice's name in the staging file.
func (s *sliceEntry) objectName() string { return s.rec.ID + s.rec.Ext }

// stats are the slice's current statistics: live while writing, recorded after.
func (s *sliceEntry) stats() local.Stats {
	if s.rec.State == SliceWriting && s.w != nil {
		return s.w.Stats()
	}
	return s.rec.Stats
}

// level is where the slice's rows are: local, staging or target.
func (s *sliceEntry) level() Level {
	switch s.rec.State {
	case SliceUploaded:
		return LevelStaging
	case SliceImported:
		return LevelTarget
	}
	return LevelLocal
}

// idLayout makes ids that sort by time.
const idLayout = "20060102T150405.000000000Z"

// nextID returns a time-ordered id after last.
func nextID(now time.Time, last *time.Time) string {
	t := now.UTC()
	if !t.After(*last) {
		t = last.Add(time.Nanosecond)
	}
	*last = t
	return t.Format(idLayout)
}

// addStats accumulates b into a.
func addStats(a *local.Stats, b local.Stats) {
	if b.Records == 0 {
		return
	}
	if a.Records == 0 || b.FirstRecordAt.Before(a.FirstRecordAt) {
		a.FirstRecordAt = b.FirstRecordAt
	}
	if b.LastRecordAt.After(a.LastRecordAt) {
		a.LastRecordAt = b.LastRecordAt
	}
	a.Records += b.Records
	a.CompressedSize += b.CompressedSize
	a.UncompressedSize += b.UncompressedSize
	if len(b.Streams) > 0 && a.Streams == nil {
		a.Streams = Offsets{}
	}
	unionInto(a.Streams, b.Streams)
}
