package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/sink/staging"
	"github.com/kbridge/kbridge/sink/target"
)

// pipeline runs the three levels of one sink. The write path touches only cur and the
// atomics; everything else is guarded by mu and changed by the pipeline's goroutines (the
// rotation loop, the uploader and JobLimit import workers) and by definition updates.
type pipeline struct {
	m   *Manager
	key SinkKey
	dir string
	log *slog.Logger
	met *sinkMetrics

	cur        atomic.Pointer[sliceEntry] // the slice writes go to; nil when not running
	syncWait   atomic.Bool
	localBytes atomic.Int64 // compressed bytes synced but not uploaded
	diskBytes  atomic.Int64 // bytes of slice files not yet deleted

	mu          sync.Mutex
	def         Sink
	mapping     *mapping.Mapping
	settings    Settings
	files       []*fileEntry
	forceRotate bool
	stopped     bool // writing ended (shutdown): no slice is opened any more
	lastID      time.Time
	tableMu     sync.Mutex // serializes table checks of the import workers
	tableOK     string     // table id checked since start
	pruned      Offsets    // per stream, the offsets of imported files no longer listed

	seenMu    sync.Mutex
	seen      map[string]int64 // per stream, the highest offset ever appended or recovered
	resetFrom string           // statistics count files with ids from it on (ClearStatistics)

	ctx        context.Context
	wg         sync.WaitGroup
	kickRotate chan struct{}
	kickUpload chan struct{}
	kickImport chan struct{}
}

func newPipeline(m *Manager, src *Source, def Sink, mp *mapping.Mapping) (*pipeline, error) {
	st, err := ResolveSettings(src.Settings, def.Settings)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", def.Key, err)
	}
	k := def.Key
	p := &pipeline{
		m: m, key: k, def: def, mapping: mp, settings: st,
		dir: filepath.Join(m.cfg.DataDir, "sinks", strconv.FormatInt(k.ProjectID, 10),
			strconv.FormatInt(k.BranchID, 10), k.SourceID, k.SinkID),
		log:    m.log.With("source", k.SourceID, "sink", k.SinkID),
		met:    m.met.forSink(k),
		pruned: Offsets{}, seen: map[string]int64{},
		kickRotate: make(chan struct{}, 1), kickUpload: make(chan struct{}, 1), kickImport: make(chan struct{}, 1),
	}
	p.syncWait.Store(st.SyncWait)
	if err := p.load(); err != nil {
		return nil, err
	}
	if err := p.loadReset(); err != nil {
		return nil, err
	}
	return p, nil
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sleep waits for a kick, the deadline (zero: none) or the end of ctx; false means stop.
func (p *pipeline) sleep(ctx context.Context, ch chan struct{}, deadline time.Time) bool {
	var wait <-chan time.Time
	if !deadline.IsZero() {
		t := p.m.clk.NewTimer(deadline.Sub(p.m.clk.Now()))
		defer t.Stop()
		wait = t.C()
	}
	select {
	case <-ch:
		return true
	case <-wait:
		return true
	case <-ctx.Done():
		return false
	}
}

// start opens the slice writes go to and starts the pipeline's goroutines.
func (p *pipeline) start(ctx context.Context) {
	p.mu.Lock()
	p.ctx = ctx
	if err := p.rotateLocked(false); err != nil {
		p.log.Error("open slice", "error", err)
	}
	p.mu.Unlock()
	p.wg.Go(func() { p.rotateLoop(ctx) })
	p.wg.Go(func() { p.uploadLoop(ctx) })
	for range p.m.cfg.Target.JobLimit {
		p.wg.Go(func() { p.importLoop(ctx) })
	}
	kick(p.kickUpload)
	kick(p.kickImport)
}

// closeWriting ends writes: the current slice gets its final sync and becomes uploading.
func (p *pipeline) closeWriting() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if s := p.cur.Swap(nil); s != nil {
		p.closeSliceLocked(s, p.m.clk.Now())
	}
}

// wait waits for the pipeline's goroutines; their context must be done.
func (p *pipeline) wait() { p.wg.Wait() }

// update applies a new definition: the current file is closed at once so that what waits is
// imported under the old conditions and new rows use the new mapping and settings.
func (p *pipeline) update(src *Source, def Sink, mp *mapping.Mapping) error {
	st, err := ResolveSettings(src.Settings, def.Settings)
	if err != nil {
		return fmt.Errorf("sink %s: %w", def.Key, err)
	}
	p.mu.Lock()
	p.def, p.mapping, p.settings, p.forceRotate = def, mp, st, true
	p.mu.Unlock()
	p.syncWait.Store(st.SyncWait)
	kick(p.kickRotate)
	return nil
}

// setSource applies new source settings from the next slice and file on (no rotation).
func (p *pipeline) setSource(source Patch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := ResolveSettings(source, p.def.Settings)
	if err != nil {
		p.log.Error("source settings", "error", err) // PutSource validated them with every sink
		return
	}
	p.settings = st
	p.syncWait.Store(st.SyncWait)
}

// onSync is the slices' sync hook.
func (p *pipeline) onSync(d time.Duration, records, uncompressed, bytes int64, err error) {
	if err != nil {
		p.met.writeError("io")
		p.log.Error("sync slice", "error", err)
		kick(p.kickRotate)
		return
	}
	p.met.fsync.Observe(d.Seconds())
	p.met.localRecords.Add(float64(records))
	p.met.localCompressed.Add(float64(bytes))
	p.met.localUncompressed.Add(float64(uncompressed))
	p.localBytes.Add(bytes)
	p.met.disk.Set(float64(p.diskBytes.Add(bytes)))
	p.m.progress.notify()
	kick(p.kickRotate)
}

// ready refuses writes the sink cannot take now.
func (p *pipeline) ready() error {
	if p.m.memory.refuse() {
		p.met.writeError("memory")
		return &BackpressureError{Sink: p.key, Err: ErrNotReady, Reason: "the heap is near the memory limit", RetryAfter: p.m.cfg.RetryAfter}
	}
	if p.localBytes.Load() >= p.m.cfg.MaxLocalBytes {
		p.met.writeError("not_ready")
		return &BackpressureError{Sink: p.key, Err: ErrNotReady, Reason: "too much data waiting for upload", RetryAfter: p.m.cfg.RetryAfter}
	}
	return nil
}

// appendError turns a slice failure into the error the writer sees.
func (p *pipeline) appendError(err error) error {
	if errors.Is(err, local.ErrBufferFull) {
		p.met.writeError("not_ready")
		return &BackpressureError{Sink: p.key, Err: ErrNotReady, Reason: "the disk is slower than the writers", RetryAfter: p.m.cfg.RetryAfter}
	}
	kick(p.kickRotate)
	if isDiskFull(err) {
		p.met.writeError("disk_full")
		return &BackpressureError{Sink: p.key, Err: ErrDiskFull, Reason: err.Error(), RetryAfter: p.m.cfg.RetryAfter}
	}
	p.met.writeError("io")
	return &BackpressureError{Sink: p.key, Err: ErrNotReady, Reason: err.Error(), RetryAfter: p.m.cfg.RetryAfter}
}

func (p *pipeline) importTrigger() target.Trigger  { return p.settings.Import }
func (p *pipeline) uploadTrigger() staging.Trigger { return p.settings.Upload }

// isDiskFull reports ENOSPC (and EDQUOT) anywhere in err.
func isDiskFull(err error) bool {
	return errors.Is(err, errNoSpace) || errors.Is(err, errQuota)
}
