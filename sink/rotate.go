package sink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/sink/staging"
	"github.com/kbridge/kbridge/sink/target"
	"github.com/kbridge/kbridge/storageapi/durable"
)

// rotateLoop closes slices when upload conditions hold and files when import conditions hold.
// It wakes after every sync, on definition changes and at the next time-based deadline.
func (p *pipeline) rotateLoop(ctx context.Context) {
	for {
		next := p.checkRotation()
		if !p.sleep(ctx, p.kickRotate, next) {
			return
		}
	}
}

// checkRotation rotates what is due and returns when to look again (zero: on a kick).
func (p *pipeline) checkRotation() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.m.clk.Now()
	if p.stopped {
		return time.Time{}
	}
	cur := p.cur.Load()
	if cur == nil || cur.w.Err() != nil {
		if err := p.rotateLocked(false); err != nil {
			p.log.Error("replace slice", "error", err)
			return now.Add(p.m.cfg.RetryAfter)
		}
		cur = p.cur.Load()
	}
	fst := p.fileStatsLocked(cur.file)
	doImport, nextImport := target.ShouldImport(p.m.cfg.Target, p.importTrigger(), fst, now, p.throttledLocked())
	if p.forceRotate || doImport {
		if err := p.rotateLocked(true); err != nil {
			p.log.Error("rotate file", "error", err)
			return now.Add(p.m.cfg.RetryAfter)
		}
		p.forceRotate = false
		return now
	}
	doUpload, nextUpload := staging.ShouldUpload(p.m.cfg.Staging, p.uploadTrigger(), cur.rec.OpenedAt, now, cur.w.Stats())
	if doUpload {
		if err := p.rotateLocked(false); err != nil {
			p.log.Error("rotate slice", "error", err)
			return now.Add(p.m.cfg.RetryAfter)
		}
		return now
	}
	return earliest(nextImport, nextUpload)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// throttledLocked: the sink has JobLimit files closing or importing (each will run a job).
func (p *pipeline) throttledLocked() bool {
	n := 0
	for _, f := range p.files {
		if f.rec.State == FileImporting || f.rec.State == FileClosing {
			n++
		}
	}
	return n >= p.m.cfg.Target.JobLimit
}

func (p *pipeline) fileStatsLocked(f *fileEntry) target.FileStats {
	st := target.FileStats{OpenedAt: f.rec.OpenedAt, Slices: len(f.slices)}
	for _, s := range f.slices {
		ss := s.stats()
		st.Records += ss.Records
		st.CompressedSize += ss.CompressedSize
	}
	if f.rec.Staging != nil {
		st.ExpiresAt = f.rec.Staging.CredentialsExpiration()
	}
	return st
}

// rotateLocked opens a new slice (in a new file when newFile) for writes, then closes the
// previous slice (and file). With no previous slice it continues the file being written.
func (p *pipeline) rotateLocked(newFile bool) error {
	now := p.m.clk.Now()
	old := p.cur.Load()
	f := p.writingFileLocked()
	if f != nil && f.mapping == nil && !p.matchesLocked(f) {
		newFile = true // a recovered file written under another definition
	}
	var oldFile *fileEntry
	if newFile || f == nil {
		oldFile = f
		nf, err := p.openFileLocked(now)
		if err != nil {
			return err
		}
		f = nf
	}
	ns, err := p.openSliceLocked(f, now)
	if err != nil {
		return err
	}
	p.cur.Store(ns)
	if old != nil {
		p.closeSliceLocked(old, now)
	}
	if oldFile != nil {
		oldFile.rec.State, oldFile.rec.ClosingAt = FileClosing, now
		if err := oldFile.persist(); err != nil {
			p.log.Error("close file", "error", err)
		}
		p.maybeImportingLocked(oldFile, now)
	}
	kick(p.kickUpload)
	return nil
}

// matchesLocked reports whether file f goes to the table and columns of the definition.
func (p *pipeline) matchesLocked(f *fileEntry) bool {
	return f.rec.Table.ID == p.def.TableID && slices.Equal(f.rec.Table.Columns, p.mapping.Names()) &&
		slices.Equal(f.rec.Table.PrimaryKey, p.mapping.PrimaryKey())
}

// writingFileLocked is the file in state writing, nil if none.
func (p *pipeline) writingFileLocked() *fileEntry {
	for i := len(p.files) - 1; i >= 0; i-- {
		if p.files[i].rec.State == FileWriting {
			return p.files[i]
		}
	}
	return nil
}

func (p *pipeline) openFileLocked(now time.Time) (*fileEntry, error) {
	id := nextID(now, &p.lastID)
	f := &fileEntry{
		dir: filepath.Join(p.dir, id), mapping: p.mapping, imported: make(chan struct{}), ring: p.m.ring,
		rec: fileRecord{ID: id, State: FileWriting, OpenedAt: now, Table: target.Table{
			ID: p.def.TableID, Columns: p.mapping.Names(), PrimaryKey: p.mapping.PrimaryKey()}},
	}
	if err := durable.MkdirAll(f.dir); err != nil {
		return nil, fmt.Errorf("open file %s: %w", id, err)
	}
	if err := f.persist(); err != nil {
		os.RemoveAll(f.dir)
		return nil, err
	}
	p.files = append(p.files, f)
	return f, nil
}

func (p *pipeline) openSliceLocked(f *fileEntry, now time.Time) (*sliceEntry, error) {
	if f.mapping == nil {
		f.mapping = p.mapping
	}
	id := nextID(now, &p.lastID)
	cfg := p.settings.Local
	s := &sliceEntry{file: f, uploaded: make(chan struct{}), path: filepath.Join(f.dir, id+cfg.Ext()),
		rec: sliceRecord{ID: id, State: SliceWriting, Ext: cfg.Ext(), OpenedAt: now}}
	w, err := local.Open(p.m.fs, s.path, cfg, p.m.clk, p.onSync)
	if err != nil {
		return nil, err
	}
	if err := s.persist(); err != nil {
		w.Close()
		return nil, err
	}
	s.w = w
	f.slices = append(f.slices, s)
	ctx := p.ctx
	p.wg.Go(func() { w.Run(ctx) })
	return s, nil
}

// closeSliceLocked makes the final sync of a slice and hands it to the uploader. When the
// final sync fails, the data file is cut back to the last good sync (nothing acknowledged is
// lost: no writer was told those rows were durable).
func (p *pipeline) closeSliceLocked(s *sliceEntry, now time.Time) {
	st, err := s.w.Close()
	if err != nil {
		p.log.Error("close slice", "slice", s.rec.ID, "error", err)
		if rst, rerr := local.Recover(p.m.fs, s.path); rerr == nil {
			st = rst
		} else {
			p.log.Error("recover slice", "slice", s.rec.ID, "error", rerr)
		}
	}
	s.rec.Stats, s.rec.State, s.rec.UploadingAt = st, SliceUploading, now
	if err := s.persist(); err != nil {
		p.log.Error("close slice", "slice", s.rec.ID, "error", err)
	}
}

// maybeImportingLocked moves a closing file whose slices are all uploaded to importing.
func (p *pipeline) maybeImportingLocked(f *fileEntry, now time.Time) {
	if f.rec.State != FileClosing {
		return
	}
	for _, s := range f.slices {
		if s.rec.State != SliceUploaded {
			return
		}
	}
	f.rec.State, f.rec.ImportingAt = FileImporting, now
	f.rec.Retry.Reset()
	if err := f.persist(); err != nil {
		p.log.Error("import file", "file", f.rec.ID, "error", err)
	}
	kick(p.kickImport)
}
