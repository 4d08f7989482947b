package sink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/storageapi/durable"
)

// load reads the sink's files and slices from disk and resumes each where it stopped:
// slices that were being written are cut back to their last sync and queued for upload,
// files whose slices are all uploaded go to import, a known job is re-polled.
func (p *pipeline) load() error {
	entries, err := os.ReadDir(p.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load sink %s: %w", p.key, err)
	}
	now := p.m.clk.Now()
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		f, err := p.loadFile(filepath.Join(p.dir, e.Name()), now)
		if err != nil {
			return fmt.Errorf("load sink %s: %w", p.key, err)
		}
		if f != nil {
			p.files = append(p.files, f)
		}
	}
	// Only the newest file may still be written; older ones were being closed.
	for i, f := range p.files {
		if f.rec.State == FileWriting && i < len(p.files)-1 {
			f.rec.State, f.rec.ClosingAt = FileClosing, now
			if err := f.persist(); err != nil {
				return err
			}
		}
		p.maybeImportingLocked(f, now)
	}
	p.pruneLocked()
	for stream, rs := range p.offsetsLocked(LevelLocal, "", false) {
		if last, ok := rs.Last(); ok {
			p.seen[stream] = last
		}
	}
	p.met.disk.Set(float64(p.diskBytes.Load()))
	return nil
}

// loadFile reads one file directory; a directory without a record is skipped.
func (p *pipeline) loadFile(dir string, now time.Time) (*fileEntry, error) {
	f := &fileEntry{dir: dir, imported: make(chan struct{}), ring: p.m.ring}
	stale, err := durable.ReadSealed(f.recordPath(), &f.rec, f.ring)
	if errors.Is(err, fs.ErrNotExist) {
		p.log.Warn("skip file directory without a record", "dir", dir)
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if stale {
		if err := f.persist(); err != nil {
			return nil, err
		}
	}
	if err := durable.Clean(dir); err != nil {
		return nil, err
	}
	p.bumpID(f.rec.ID)
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	for _, name := range names {
		if filepath.Base(name) == "file.json" {
			continue
		}
		s, err := p.loadSlice(f, name, now)
		if err != nil {
			return nil, err
		}
		f.slices = append(f.slices, s)
	}
	if f.rec.State == FileImported {
		f.dropSlices()
		close(f.imported)
	}
	return f, nil
}

func (p *pipeline) loadSlice(f *fileEntry, recordPath string, now time.Time) (*sliceEntry, error) {
	s := &sliceEntry{file: f, uploaded: make(chan struct{})}
	if err := durable.Read(recordPath, &s.rec); err != nil {
		return nil, err
	}
	p.bumpID(s.rec.ID)
	s.path = strings.TrimSuffix(recordPath, ".json") + s.rec.Ext
	switch {
	case f.rec.State == FileImported:
		s.rec.State = SliceImported
	case s.rec.State == SliceWriting || s.rec.State == SliceClosing:
		st, err := local.Recover(p.m.fs, s.path)
		if err != nil {
			return nil, err
		}
		s.rec.Stats, s.rec.State, s.rec.UploadingAt = st, SliceUploading, now
		if err := s.persist(); err != nil {
			return nil, err
		}
	}
	switch s.rec.State {
	case SliceUploading:
		p.localBytes.Add(s.rec.Stats.CompressedSize)
		p.diskBytes.Add(s.rec.Stats.CompressedSize)
	case SliceUploaded:
		p.diskBytes.Add(s.rec.Stats.CompressedSize)
		close(s.uploaded)
	case SliceImported:
		close(s.uploaded)
	}
	return s, nil
}

func (p *pipeline) bumpID(id string) {
	if t, err := time.Parse(idLayout, id); err == nil && t.After(p.lastID) {
		p.lastID = t
	}
}
