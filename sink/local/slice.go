package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/storageapi/durable"
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
	// Again marks a record read again on purpose (its offsets were rewound): it is written
	// even where the sink holds its offset already.
	Again bool
}

// Stats describe the rows of a slice.
type Stats struct {
	Records          int64             `json:"records"`
	UncompressedSize int64             `json:"uncompressedSize"`
	CompressedSize   int64             `json:"compressedSize"`
	FirstRecordAt    time.Time         `json:"firstRecordAt,omitzero"`
	LastRecordAt     time.Time         `json:"lastRecordAt,omitzero"`
	Streams          map[string]Ranges `json:"streams,omitempty"` // the offsets held, per stream
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
	last           *span            // the span of the last position appended
	lastStream     string
	aligned        int64 // data file size after the last sync
	err            error
	closed         bool

	kick chan struct{}
	stop chan struct{}
}

// span is the ledger of one stream in the slice: every offset appended, the offsets appended
// since the last sync began (written in its sync-log line), and those covered by a completed
// sync (durable).
type span struct {
	all, delta, durable Ranges
}

// Open creates a new slice at path (the data file) and path+".sync" (its sync log).
func Open(fsys FS, path string, cfg Config, clk clock.Clock, hook SyncHook) (*Slice, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	file, err := fsys.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open slice %s: %w", path, err)
	}
	log, err := fsys.OpenFile(path+".sync", os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
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
	if err := durable.SyncDir(dirOf(path)); err != nil {
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
	sp := s.last
	if sp == nil || p.Stream != s.lastStream {
		if sp = s.streams[p.Stream]; sp == nil {
			sp = &span{}
			s.streams[p.Stream] = sp
		}
		s.last, s.lastStream = sp, p.Stream
	}
	sp.all.Add(p.Offset)
	sp.delta.Add(p.Offset)
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

// Stats returns the statistics of everything appended so far, without the offsets (see
// Offsets).
func (s *Slice) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Appended is the highest offset of stream appended to the slice, -1 if none.
func (s *Slice) Appended(stream string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp := s.streams[stream]; sp != nil {
		if last, ok := sp.all.Last(); ok {
			return last
		}
	}
	return -1
}

// Offsets adds, per stream (only stream, unless it is ""), the offsets the slice holds to out:
// those covered by a completed sync when durable, else every offset appended. A broken slice
// holds only what is durable.
func (s *Slice) Offsets(out map[string]Ranges, stream string, durable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sp := range s.streams {
		if stream != "" && k != stream {
			continue
		}
		set := sp.all
		if durable || s.err != nil {
			set = sp.durable
		}
		if len(set) == 0 {
			continue
		}
		have := out[k]
		have.Union(set)
		out[k] = have
	}
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
	for k, v := range s.streams {
		if len(v.durable) > 0 {
			if out.Streams == nil {
				out.Streams = make(map[string]Ranges, len(s.streams))
			}
			out.Streams[k] = v.durable.Clone()
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
