package sink

import (
	"context"
	"errors"
	"time"

	"github.com/kbridge/kbridge/sink/staging"
	"github.com/kbridge/kbridge/storageapi"
)

// uploadLoop uploads closed slices one at a time, oldest first, so that the manifest grows
// in order. A failed upload is retried after the backoff; later slices wait for it.
func (p *pipeline) uploadLoop(ctx context.Context) {
	for {
		s, next := p.nextUpload()
		if s == nil {
			if !p.sleep(ctx, p.kickUpload, next) {
				return
			}
			continue
		}
		p.upload(ctx, s)
		if ctx.Err() != nil {
			return
		}
	}
}

// nextUpload is the oldest slice waiting for upload if its retry is due, else when it is.
func (p *pipeline) nextUpload() (*sliceEntry, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.m.clk.Now()
	for _, f := range p.files {
		for _, s := range f.slices {
			if s.rec.State != SliceUploading {
				continue
			}
			if !s.rec.Retry.Due(now) {
				return nil, s.rec.Retry.After
			}
			return s, time.Time{}
		}
	}
	return nil, time.Time{}
}

// upload sends one slice (an empty one is only marked uploaded) and records the outcome.
func (p *pipeline) upload(ctx context.Context, s *sliceEntry) {
	p.mu.Lock()
	f := s.file
	staged, records := f.rec.Staging, s.rec.Stats.Records
	var done []string
	for _, x := range f.slices {
		if x.rec.State == SliceUploaded && x.rec.Stats.Records > 0 {
			done = append(done, x.objectName())
		}
	}
	p.mu.Unlock()
	var err error
	refused := false // the blob storage refused the file's upload credentials
	start := p.m.clk.Now()
	if records > 0 {
		if staged == nil {
			staged, err = p.prepare(ctx, f)
		}
		if err == nil {
			err = p.withUploader(ctx, func(up *staging.Uploader) error { return up.Upload(ctx, staged, s.objectName(), s.path, done) })
			refused = errors.Is(err, storageapi.ErrCredentialsExpired) || errors.Is(err, storageapi.ErrForbidden)
		}
	}
	if ctx.Err() != nil {
		return
	}
	if records > 0 {
		p.sendEvent(ctx, EventSliceUpload, p.m.clk.Now().Sub(start), err, s.stats(), 1)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.m.clk.Now()
	if err != nil {
		if refused && f.rec.Staging != nil && f.rec.Staging == staged {
			p.restageLocked(f)
		}
		s.rec.Retry.Fail(now, err, p.m.cfg.Target.Backoff)
		p.met.failure(LevelStaging)
		p.log.Warn("upload slice", "slice", s.rec.ID, "attempt", s.rec.Retry.Attempt, "retryAfter", s.rec.Retry.After, "error", err)
		if perr := s.persist(); perr != nil {
			p.log.Error("upload slice", "slice", s.rec.ID, "error", perr)
		}
		return
	}
	s.rec.State, s.rec.UploadedAt = SliceUploaded, now
	s.rec.Retry.Reset()
	if perr := s.persist(); perr != nil {
		p.log.Error("upload slice", "slice", s.rec.ID, "error", perr)
	}
	if !closed(s.uploaded) { // uploaded before into a staging file that was replaced
		close(s.uploaded)
	}
	st := s.rec.Stats
	p.localBytes.Add(-st.CompressedSize)
	p.met.level(LevelStaging, st.Records, st.CompressedSize, st.UncompressedSize)
	p.maybeImportingLocked(f, now)
	p.m.progress.notify()
}

// prepare creates the file's staging file and records it before any slice is sent.
func (p *pipeline) prepare(ctx context.Context, f *fileEntry) (*stagingFile, error) {
	p.mu.Lock()
	name := p.key.SourceID + "_" + p.key.SinkID + "_" + f.rec.ID
	p.mu.Unlock()
	var sf *stagingFile
	err := p.withUploader(ctx, func(up *staging.Uploader) (err error) {
		sf, err = up.Prepare(ctx, name, []string{"stream.sourceID=" + p.key.SourceID, "stream.sinkID=" + p.key.SinkID})
		return err
	})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f.rec.Staging = sf
	if err := f.persist(); err != nil {
		f.rec.Staging = nil
		return nil, err
	}
	return sf, nil
}

// restageLocked gives up a staging file whose upload credentials were refused (expired or
// revoked): the next attempt prepares a new file, and the slices already uploaded into the old
// one are uploaded again into it, from the local data that is kept until the import. The old
// file is never imported, so nothing is imported twice.
func (p *pipeline) restageLocked(f *fileEntry) {
	old := f.rec.Staging
	f.rec.Staging = nil
	if err := f.persist(); err != nil {
		p.log.Error("replace staging file", "file", f.rec.ID, "error", err)
		f.rec.Staging = old
		return
	}
	again := 0
	for _, x := range f.slices {
		if x.rec.State != SliceUploaded {
			continue
		}
		x.rec.State, x.rec.UploadedAt = SliceUploading, time.Time{}
		if err := x.persist(); err != nil {
			p.log.Error("replace staging file", "slice", x.rec.ID, "error", err)
		}
		p.localBytes.Add(x.rec.Stats.CompressedSize)
		again++
	}
	p.log.Warn("upload credentials refused; a new staging file is prepared", "file", f.rec.ID,
		"stagingFile", old.ID, "slicesUploadedAgain", again)
}
