package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"
)

// syncRecord is one line of the sync log: cumulative totals after the sync and the streams
// whose offsets changed since the previous line.
type syncRecord struct {
	Size          int64             `json:"size"`
	Records       int64             `json:"records"`
	Uncompressed  int64             `json:"uncompressed"`
	FirstRecordAt time.Time         `json:"first,omitzero"`
	LastRecordAt  time.Time         `json:"last,omitzero"`
	Streams       map[string]Ranges `json:"streams,omitempty"` // offsets appended since the previous line
}

// Run is the slice's syncer: it syncs when a trigger fires and returns when the slice is
// closed or ctx ends. The owner of the slice runs it and waits for it.
func (s *Slice) Run(ctx context.Context) {
	for s.step(ctx) {
	}
}

// step syncs when a trigger fired, else waits for a kick or the interval; false means stop.
// The interval runs from the start of the previous sync, as in Keboola: under steady load a
// sync starts every interval however long the previous one took, a record appended after a
// quiet period is synced at once, and no record waits longer than the interval for its sync
// to start (unless the previous sync is still running).
func (s *Slice) step(ctx context.Context) bool {
	s.mu.Lock()
	// A broken or closed slice syncs no more: its pending rows wait for Close or Recover, and
	// the syncer waits for the stop instead of retrying in a loop.
	pending := s.pendingRecords > 0 && s.err == nil && !s.closed
	last, due := s.syncStarted, s.dueLocked()
	s.mu.Unlock()
	var wait <-chan time.Time
	if pending {
		left := last.Add(s.cfg.SyncIntervalTrigger).Sub(s.clk.Now())
		if due || left <= 0 {
			s.Sync() // the error reaches the waiters and breaks the slice
			return true
		}
		t := s.clk.NewTimer(left)
		defer t.Stop()
		wait = t.C()
	}
	select {
	case <-s.kick:
	case <-wait:
	case <-s.stop:
		return false
	case <-ctx.Done():
		return false
	}
	return true
}

// Sync writes and fsyncs everything appended so far and completes its SyncPoint.
func (s *Slice) Sync() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	return s.syncLocked()
}

// syncLocked runs one sync; syncMu must be held.
func (s *Slice) syncLocked() error {
	s.mu.Lock()
	if s.err != nil || s.pendingRecords == 0 {
		err := s.err
		s.mu.Unlock()
		return err
	}
	err := s.enc.Close()
	data := s.buf
	s.buf, s.spare = s.spare, nil
	s.buf.Reset()
	s.enc.Reset(s.buf)
	point, records, uncompressed := s.pending, int64(s.pendingRecords), s.pendingBytes
	s.pending, s.pendingRecords, s.pendingBytes = newSyncPoint(), 0, 0
	s.syncStarted = s.clk.Now()
	rec := s.recordLocked(int64(data.Len()))
	s.mu.Unlock()

	start := time.Now()
	if err == nil {
		err = s.persist(data.Bytes(), rec)
	}
	if s.hook != nil {
		s.hook(time.Since(start), records, uncompressed, int64(data.Len()), err)
	}
	s.mu.Lock()
	s.spare = data
	if err != nil {
		s.err = fmt.Errorf("sync slice %s: %w", s.path, err)
		err = s.err
	} else {
		s.commitLocked(rec)
	}
	s.mu.Unlock()
	point.finish(err)
	return err
}

// recordLocked builds the sync-log line for the data being synced.
func (s *Slice) recordLocked(size int64) syncRecord {
	rec := syncRecord{
		Size: s.aligned + size, Records: s.total.Records, Uncompressed: s.total.UncompressedSize,
		FirstRecordAt: s.total.FirstRecordAt, LastRecordAt: s.total.LastRecordAt,
	}
	for k, v := range s.streams {
		if len(v.delta) > 0 {
			if rec.Streams == nil {
				rec.Streams = map[string]Ranges{}
			}
			rec.Streams[k] = v.delta
			v.delta = nil
		}
	}
	return rec
}

func (s *Slice) commitLocked(rec syncRecord) {
	s.aligned = rec.Size
	s.durable = Stats{Records: rec.Records, UncompressedSize: rec.Uncompressed, CompressedSize: rec.Size,
		FirstRecordAt: rec.FirstRecordAt, LastRecordAt: rec.LastRecordAt}
	for k, r := range rec.Streams {
		s.streams[k].durable.Union(r)
	}
}

// persist appends data to the file and the record to the log, fsyncing both.
func (s *Slice) persist(data []byte, rec syncRecord) error {
	if _, err := s.file.Write(data); err != nil {
		return err
	}
	if s.cfg.SyncMode == SyncModeDisk {
		if err := s.file.Sync(); err != nil {
			return err
		}
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := s.log.Write(append(line, '\n')); err != nil {
		return err
	}
	if s.cfg.SyncMode == SyncModeDisk {
		return s.log.Sync()
	}
	return nil
}

func dirOf(path string) string { return filepath.Dir(path) }

// lastRecord parses the sync log: the cumulative totals of the last complete line and the
// union of the offsets of all complete lines. A torn last line is ignored.
func lastRecord(log []byte) (syncRecord, map[string]Ranges) {
	var last syncRecord
	streams := map[string]Ranges{}
	for len(log) > 0 {
		i := bytes.IndexByte(log, '\n')
		if i < 0 {
			break
		}
		var rec syncRecord
		if json.Unmarshal(log[:i], &rec) != nil {
			break
		}
		last = rec
		for k, r := range rec.Streams {
			have := streams[k]
			have.Union(r)
			streams[k] = have
		}
		log = log[i+1:]
	}
	return last, streams
}
