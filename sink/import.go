package sink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kbridge/kbridge/sink/target"
	"github.com/kbridge/kbridge/storageapi"
)

type stagingFile = storageapi.File

// importLoop is one import worker; JobLimit of them run per sink.
func (p *pipeline) importLoop(ctx context.Context) {
	for {
		f, next := p.takeImport()
		if f == nil {
			if !p.sleep(ctx, p.kickImport, next) {
				return
			}
			continue
		}
		kick(p.kickImport) // another worker may take the next file
		p.importFile(ctx, f)
		p.mu.Lock()
		f.busy = false
		p.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		kick(p.kickRotate) // the throttle may be lifted
	}
}

// takeImport claims the oldest importing file whose retry is due.
func (p *pipeline) takeImport() (*fileEntry, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.m.clk.Now()
	var next time.Time
	for _, f := range p.files {
		if f.rec.State != FileImporting || f.busy {
			continue
		}
		if !f.rec.Retry.Due(now) {
			next = earliest(next, f.rec.Retry.After)
			continue
		}
		f.busy = true
		return f, time.Time{}
	}
	return nil, next
}

// importFile runs one attempt: table check, job start (its id persisted first) and the wait.
func (p *pipeline) importFile(ctx context.Context, f *fileEntry) {
	p.mu.Lock()
	rec, records := f.rec, p.fileStatsLocked(f).Records
	p.mu.Unlock()
	if records == 0 {
		if rec.Staging != nil {
			if err := p.withImporter(ctx, func(im *target.Importer) error { return im.DeleteFile(ctx, rec.Staging.ID) }); err != nil && !errors.Is(err, storageapi.ErrNotFound) {
				p.importFailed(ctx, f, err, false)
				return
			}
		}
		p.imported(f, time.Time{})
		return
	}
	start := p.m.clk.Now()
	jobID, err := p.startImport(ctx, f, rec)
	if err != nil {
		p.importFailed(ctx, f, err, false)
		return
	}
	err = p.withImporter(ctx, func(im *target.Importer) error { return im.Wait(ctx, jobID, p.m.cfg.Target.ImportTimeout) })
	if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) { // a job still running has no outcome yet
		p.mu.Lock()
		total, slices := f.rec.Stats, len(f.slices)
		for _, s := range f.slices {
			addStats(&total, s.stats())
		}
		p.mu.Unlock()
		p.sendEvent(ctx, EventFileImport, p.m.clk.Now().Sub(start), err, total, slices)
	}
	switch {
	case err == nil:
		p.met.job("success")
		p.imported(f, start)
	case ctx.Err() != nil:
	case errors.Is(err, storageapi.ErrJobFailed), errors.Is(err, storageapi.ErrNotFound):
		p.met.job("error")
		p.importFailed(ctx, f, err, true)
	default:
		p.importFailed(ctx, f, err, false)
	}
}

// startImport returns the file's import job: the one persisted, the one a previous attempt
// started but could not persist (found among Storage's jobs), or a new one. The intent is
// made durable before the request, and the new job's id right after it, so a crash at any
// point neither loses the import nor runs it twice.
func (p *pipeline) startImport(ctx context.Context, f *fileEntry, rec fileRecord) (int64, error) {
	if rec.JobID != 0 {
		return rec.JobID, nil
	}
	if !rec.ImportStartedAt.IsZero() {
		var id int64
		var found bool
		err := p.withImporter(ctx, func(im *target.Importer) (err error) {
			id, found, err = im.FindImport(ctx, rec.Table, rec.Staging.ID)
			return err
		})
		switch {
		case err != nil && !errors.Is(err, storageapi.ErrNotFound):
			return 0, fmt.Errorf("look for the import job of a file whose import was requested: %w", err)
		case err != nil:
			p.log.Warn("Storage lists no jobs; the import is requested again", "file", rec.ID, "error", err)
		case found:
			p.log.Info("import job found after a restart", "file", rec.ID, "job", id)
			return id, p.setJob(f, id)
		}
	}
	if err := p.ensureTable(ctx, rec); err != nil {
		return 0, err
	}
	if err := p.setImportStarted(f); err != nil {
		return 0, err
	}
	// Shutdown does not cut this request short (it is bounded by the client's timeouts): a job
	// Storage creates gets its id persisted.
	var id int64
	err := p.withImporter(ctx, func(im *target.Importer) (err error) {
		id, err = im.Start(context.WithoutCancel(ctx), rec.Table, rec.Staging.ID)
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := p.setJob(f, id); err != nil {
		p.log.Error("persist import job", "file", rec.ID, "job", id, "error", err)
	}
	return id, nil
}

func (p *pipeline) setImportStarted(f *fileEntry) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !f.rec.ImportStartedAt.IsZero() {
		return nil
	}
	f.rec.ImportStartedAt = p.m.clk.Now()
	return f.persist()
}

func (p *pipeline) ensureTable(ctx context.Context, rec fileRecord) error {
	p.tableMu.Lock()
	defer p.tableMu.Unlock()
	p.mu.Lock()
	ok := p.tableOK == rec.Table.ID+"\x00"+joinNames(rec.Table.Columns, rec.Table.PrimaryKey)
	p.mu.Unlock()
	if ok {
		return nil
	}
	if err := p.withImporter(ctx, func(im *target.Importer) error { return im.EnsureTable(ctx, rec.Table, true) }); err != nil {
		return err
	}
	p.mu.Lock()
	p.tableOK = rec.Table.ID + "\x00" + joinNames(rec.Table.Columns, rec.Table.PrimaryKey)
	p.mu.Unlock()
	return nil
}

func joinNames(a, b []string) string {
	out := ""
	for _, s := range a {
		out += s + ","
	}
	out += "|"
	for _, s := range b {
		out += s + ","
	}
	return out
}

func (p *pipeline) setJob(f *fileEntry, id int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f.rec.JobID = id
	return f.persist()
}

// importFailed records a failed attempt; newJob forgets the job so the next attempt starts one.
func (p *pipeline) importFailed(ctx context.Context, f *fileEntry, err error, newJob bool) {
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if errors.Is(err, storageapi.ErrColumnsMismatch) {
		p.tableOK = ""
	}
	if newJob { // the job failed: the next attempt starts a new one
		f.rec.JobID, f.rec.ImportStartedAt = 0, time.Time{}
	}
	f.rec.Retry.Fail(p.m.clk.Now(), err, p.m.cfg.Target.Backoff)
	p.met.failure(LevelTarget)
	p.log.Warn("import file", "file", f.rec.ID, "attempt", f.rec.Retry.Attempt, "retryAfter", f.rec.Retry.After, "error", err)
	if perr := f.persist(); perr != nil {
		p.log.Error("import file", "file", f.rec.ID, "error", perr)
	}
}

// imported marks the file and its slices imported and deletes their local data.
func (p *pipeline) imported(f *fileEntry, start time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.m.clk.Now()
	var total = f.rec.Stats
	for _, s := range f.slices {
		addStats(&total, s.rec.Stats)
	}
	before := f.rec
	f.rec.State, f.rec.ImportedAt, f.rec.Stats = FileImported, now, total
	f.rec.Retry.Reset()
	if err := f.persist(); err != nil {
		// Nothing changes until the disk says imported (a full disk): the next attempt polls
		// the persisted job again and finds it done.
		f.rec = before
		f.rec.Retry.Fail(now, err, p.m.cfg.Target.Backoff)
		p.log.Error("import file", "file", f.rec.ID, "error", err)
		return
	}
	if !start.IsZero() {
		p.met.m.importTime.WithLabelValues(p.met.source, p.met.sink).Observe(now.Sub(start).Seconds())
	}
	p.met.level(LevelTarget, total.Records, total.CompressedSize, total.UncompressedSize)
	for _, s := range f.slices {
		s.rec.State = SliceImported
		select {
		case <-s.uploaded:
		default:
			close(s.uploaded)
		}
		p.removeSliceData(s)
	}
	f.dropSlices()
	close(f.imported)
	p.pruneLocked()
	p.m.progress.notify()
}

// removeSliceData deletes an imported slice's data file and sync log; its record stays with
// the file until the file is pruned.
func (p *pipeline) removeSliceData(s *sliceEntry) {
	for _, path := range []string{s.path, s.path + ".sync"} {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.log.Error("remove imported slice", "path", path, "error", err)
		}
	}
	p.met.disk.Set(float64(p.diskBytes.Add(-s.rec.Stats.CompressedSize)))
}

// pruneLocked forgets imported files beyond KeepImportedFiles, oldest first.
func (p *pipeline) pruneLocked() {
	imported := 0
	for _, f := range p.files {
		if f.rec.State == FileImported {
			imported++
		}
	}
	kept := p.files[:0]
	for _, f := range p.files {
		if f.rec.State == FileImported && imported > p.m.cfg.KeepImportedFiles {
			imported--
			unionInto(p.pruned, f.rec.Stats.Streams)
			if err := os.RemoveAll(f.dir); err != nil {
				p.log.Error("remove imported file", "file", f.rec.ID, "error", err)
			}
			continue
		}
		kept = append(kept, f)
	}
	clear(p.files[len(kept):])
	p.files = kept
}
