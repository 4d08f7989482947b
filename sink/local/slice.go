package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/sink/state"
)

// ErrClosed is returned by Append on a slice that was closed; the caller appends to the
// sink's next slice instead.
var ErrClosed = errors.New("slice closed")

// ErrBufferFull is returned by Append while more than MaxBuffered bytes wait for a sync (the
// disk is slower than the writers); nothing was appended, the caller retries later.
var ErrBufferFull = errors.New("slice buffer full")

// MaxBuffered bounds the compressed bytes a slice holds in memory between syncs.
const MaxBuffered = 64 << 20

// Position is where an event came from: Stream is "topic/partition", Offset its offset.
type Position struct {
	Stream string
	Offset int64
}

// Range is the first and last offset of one stream held by a slice.
type Range struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
}

// Stats describe the rows of a slice.
type Stats struct {
	Records          int64            `json:"records"`
	UncompressedSize int64            `json:"uncompressedSize"`
	CompressedSize   int64            `json:"compressedSize"`
	FirstRecordAt    time.Time        `json:"firstRecordAt,omitzero"`
	LastRecordAt     time.Time        `json:"lastRecordAt,omitzero"`
	Streams          map[string]Range `json:"streams,omitempty"`
}

// SyncHook observes completed syncs (metrics); it must not block.
type SyncHook func(d time.Duration, records, uncompressed, compressed int64, err error)

// Slice is one open slice file. Append may be called concurrently; Run runs its syncer.
type Slice struct {
	path, logPath string
	cfg           Config
	clk           clock.Clock
	hook          SyncHook

	syncMu sync.Mutex // serializes syncs; taken before mu
	mu     sync.Mutex
	file   File
	log    File
	buf    *bytes.Buffer // compressed bytes not yet written
	spare  *bytes.Buffer
	enc    compressor

	pending        *SyncPoint
	pendingRecords int
	pendingBytes   int64
	syncStarted    time.Time        // when the last sync began (the opening before the first)
	total          Stats            // everything appended (sizes as buffered)
	durable        Stats            // as of the last completed sync
	streams        map[string]*span // per-stream offsets appended
	aligned        int64            // data file size after the last sync
	err            error
	closed         bool

	kick chan struct{}
	stop chan struct{}
}

type span struct {
	Range
	synced int64 // last offset covered by a completed sync; -1 none
	dirty  bool
}

// Open creates a new slice at path (the data file) and path+".sync" (its sync log).
func Open(fsys FS, path string, cfg Config, clk clock.Clock, hook SyncHook) (*Slice, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	file, err := fsys.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open slice %s: %w", path, err)
	}
	log, err := fsys.OpenFile(path+".sync", os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("open slice %s: %w", path, err)
	}
	s := &Slice{
		path: path, logPath: path + ".sync", cfg: cfg, clk: clk, hook: hook,
		file: file, log: log, buf: new(bytes.Buffer), spare: new(bytes.Buffer),
		pending: newSyncPoint(), streams: map[string]*span{}, syncStarted: clk.Now(),
		kick: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	if s.enc, err = newCompressor(cfg, s.buf); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open slice %s: %w", path, err)
	}
	if err := state.SyncDir(dirOf(path)); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open slice %s: %w", path, err)
	}
	return s, nil
}

// Path is the data file.
func (s *Slice) Path() string { return s.path }

// Append compresses rows (records CSV rows, each ending in "\n") into the slice and returns
// the SyncPoint that makes them durable. positions, when not nil, are the records' positions
// in order. rows is not retained.
func (s *Slice) Append(rows []byte, records int, positions []Position) (*SyncPoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.buf.Len() >= MaxBuffered {
		s.signal()
		return nil, ErrBufferFull
	}
	if _, err := s.enc.Write(rows); err != nil {
		s.err = fmt.Errorf("compress slice %s: %w", s.path, err)
		return nil, s.err
	}
	now := s.clk.Now()
	if s.total.Records == 0 {
		s.total.FirstRecordAt = now
	}
	s.total.LastRecordAt = now
	s.total.Records += int64(records)
	s.total.UncompressedSize += int64(len(rows))
	s.total.CompressedSize = s.aligned + int64(s.buf.Len())
	for _, p := range positions {
		s.track(p)
	}
	if s.pendingRecords == 0 {
		s.signal()
	}
	s.pendingRecords += records
	s.pendingBytes += int64(len(rows))
	if s.dueLocked() {
		s.signal()
	}
	return s.pending, nil
}

func (s *Slice) track(p Position) {
	sp := s.streams[p.Stream]
	if sp == nil {
		sp = &span{Range: Range{First: p.Offset, Last: p.Offset}, synced: -1}
		s.streams[p.Stream] = sp
	}
	if p.Offset > sp.Last {
		sp.Last = p.Offset
	}
	if p.Offset < sp.First {
		sp.First = p.Offset
	}
	sp.dirty = true
}

func (s *Slice) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// dueLocked reports whether a count or size trigger asks for a sync.
func (s *Slice) dueLocked() bool {
	if s.closed {
		return false // released: nothing is pending any more
	}
	return s.pendingRecords >= s.cfg.SyncCountTrigger ||
		s.pendingBytes >= s.cfg.SyncUncompressedBytesTrigger ||
		int64(s.buf.Len()) >= s.cfg.SyncCompressedBytesTrigger
}

// Stats returns the statistics of everything appended so far.
func (s *Slice) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.total
	out.Streams = make(map[string]Range, len(s.streams))
	for k, v := range s.streams {
		out.Streams[k] = v.Range
	}
	return out
}

// Synced returns, per stream, the last offset covered by a completed sync.
func (s *Slice) Synced(stream string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.streams[stream]
	if sp == nil || sp.synced < 0 {
		return 0, false
	}
	return sp.synced, true
}

// Err is the error that broke the slice, nil while it works.
func (s *Slice) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close syncs what is pending, closes the files and stops the syncer. It returns the
// durable statistics; an error means the tail after the last good sync is not durable and
// Recover must be used to cut the data file back to the sync log.
func (s *Slice) Close() (Stats, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	if s.closed {
		defer s.mu.Unlock()
		return s.durableLocked(), s.err
	}
	s.closed = true
	s.mu.Unlock()
	err := s.syncLocked()
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.stop)
	if s.pendingRecords > 0 {
		s.pending.finish(s.err)
	}
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.err
	}
	s.release()
	return s.durableLocked(), err
}

// release drops the compressor and the buffers of a closed slice (most of its memory, about
// 1 MB with gzip): the owner keeps a closed slice until its file is imported. Only the
// per-stream offsets stay. s.mu and s.syncMu must be held.
func (s *Slice) release() {
	s.enc, s.buf, s.spare = nil, nil, nil
}

func (s *Slice) durableLocked() Stats {
	out := s.durable
	out.Streams = make(map[string]Range, len(s.streams))
	for k, v := range s.streams {
		if v.synced >= 0 {
			out.Streams[k] = Range{First: v.First, Last: v.synced}
		}
	}
	return out
}

func (s *Slice) closeFiles() error {
	err := s.file.Close()
	if lerr := s.log.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("close slice %s: %w", s.path, err)
	}
	return nil
}

// SyncPoint completes when the sync covering some rows finished.
type SyncPoint struct {
	done chan struct{}
	err  error
}

func newSyncPoint() *SyncPoint { return &SyncPoint{done: make(chan struct{})} }

// Done is closed when the sync finished; Err then tells how.
func (p *SyncPoint) Done() <-chan struct{} { return p.done }

// Err is the sync's error; valid after Done is closed.
func (p *SyncPoint) Err() error { return p.err }

func (p *SyncPoint) finish(err error) {
	p.err = err
	close(p.done)
}
