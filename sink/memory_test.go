package sink_test

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
)

// liveHeap is the live heap after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestHeapReturnsToBaselineAfterManyFiles opens and closes 250 slices in 50 files, all
// uploaded and imported, and compares the live heap with the one after the first write. The
// sink keeps the records of the last KeepImportedFiles (30) files: small records, not the
// slices' compressors and buffers (which were about 1 MB a slice, 150 MB here). Not parallel:
// other tests would move the heap.
func TestHeapReturnsToBaselineAfterManyFiles(t *testing.T) {
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	const batch, slicesPerFile, files = 40, 5, 50
	define(t, m, columns, patch(syncEachBatch, "staging.upload.trigger.count", batch,
		"target.import.trigger.count", batch*slicesPerFile), "in.c-mem.events")
	filesImported := func(n int) bool {
		fs, err := m.SinkFiles(sinkKey(0), false)
		if err != nil {
			t.Fatal(err)
		}
		imported := 0
		for _, f := range fs {
			if f.State == sink.FileImported {
				imported++
			}
		}
		return imported >= n
	}
	write := func(file int) {
		ws := writeBatches(t, m, file*batch*slicesPerFile, batch*slicesPerFile, batch)
		e.eventually("the file imported", 0, func() bool { return reached(ws, sink.LevelTarget) })
	}
	write(0)
	base := liveHeap()
	for i := 1; i < files; i++ {
		write(i)
	}
	e.eventually("every file imported", 0, func() bool { return filesImported(30) })
	grown := liveHeap() - base
	t.Logf("live heap %d bytes after the first file, %+d after %d files of %d slices", base, grown, files, slicesPerFile)
	if grown > 8<<20 {
		t.Errorf("the live heap grew by %d bytes over %d files; want at most 8 MiB (30 imported file records)", grown, files)
	}
	fs, _ := m.SinkFiles(sinkKey(0), false)
	if len(fs) > 32 {
		t.Errorf("the sink keeps %d files, want the 30 imported ones and the one being written", len(fs))
	}
	for _, f := range fs {
		if f.State == sink.FileImported && f.Slices == 0 {
			t.Errorf("imported file %s reports no slices; its slices' entries are gone, their count is not", f.ID)
		}
	}
	checkTable(t, e, "in.c-mem.events", files*batch*slicesPerFile)
}

// With the heap above 80% of the memory limit every write is refused with a
// *BackpressureError (ErrNotReady: the Kafka bridge pauses, the intake answers 503); under
// 70% writes are taken again. Not parallel: it sets the process's memory limit.
func TestWritesRefusedNearTheMemoryLimit(t *testing.T) {
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, syncEachBatch, "in.c-mem.limit")
	writeBatches(t, m, 0, 10, 10)
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)

	debug.SetMemoryLimit(liveHeap() * 11 / 10) // the live heap is at 91% of the limit
	evs, pos := events(10, 10)
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if _, err = m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos); err != nil {
			break
		}
	}
	var bp *sink.BackpressureError
	if !errors.As(err, &bp) || !errors.Is(err, sink.ErrNotReady) || !strings.Contains(bp.Reason, "memory limit") || bp.RetryAfter <= 0 {
		t.Fatalf("write with the heap near the limit: %v, want a *BackpressureError with ErrNotReady", err)
	}

	debug.SetMemoryLimit(old)
	var w *sink.Write
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if w, err = m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("write without a memory limit: %v", err)
	}
	if err := w.Wait(ctxT(t, 5*time.Second), sink.LevelLocal); err != nil {
		t.Fatal(err)
	}
}
