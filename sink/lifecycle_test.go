package sink_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
)

// TestCloseSyncsPendingRows checks the shutdown order: writes refused, pending rows synced
// and persisted, waiters released, state recovered by the next process.
func TestCloseSyncsPendingRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	stop := runUntil(t, m)
	define(t, m, columns, nil, "in.c-l.events") // sync every 50ms of the fake clock, which stands still
	evs, pos := events(0, 25)
	w, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := w.Reached(sink.LevelLocal); ok {
		t.Fatal("local before any sync")
	}
	stop()
	if err := w.Wait(ctxT(t, 5*time.Second), sink.LevelLocal); err != nil {
		t.Fatalf("the final sync did not cover the pending rows: %v", err)
	}
	if err := w.Wait(ctxT(t, 5*time.Second), sink.LevelStaging); !errors.Is(err, sink.ErrClosed) {
		t.Fatalf("wait staging after close = %v, want ErrClosed", err)
	}
	if _, err := m.Write(ctxT(t, time.Second), sourceKey, evs, pos); !errors.Is(err, sink.ErrClosed) {
		t.Fatalf("write after close = %v", err)
	}

	again, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctxT(t, 5*time.Second))
	st, err := again.SinkStatistics(sinkKey(0))
	if err != nil || st.Levels.Local == nil || st.Levels.Local.RecordsCount != 25 {
		t.Fatalf("after restart = %+v, %v", st, err)
	}
	if rec, err := again.Recovered(sourceKey); err != nil || rec["t/0"] != 24 {
		t.Fatalf("recovered = %v, %v", rec, err)
	}
}

func TestSyncWaitFalseReturnsOnceBuffered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, sink.Patch{"storage.level.local.encoding.sync.wait": false}, "in.c-l.nowait")
	evs, _ := events(0, 1)
	w, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.WaitsForSync() {
		t.Fatal("WaitsForSync with sync.wait=false")
	}
	if err := w.Wait(ctxT(t, time.Second), sink.LevelLocal); err != nil {
		t.Fatal(err)
	}
	st, _ := m.SinkStatistics(sinkKey(0))
	if st.Total.RecordsCount != 1 {
		t.Fatalf("records = %d", st.Total.RecordsCount)
	}
}

func TestSourceSettingsApplyToItsSinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, nil, "in.c-l.src")
	src, _ := m.Source(sourceKey)
	src.Settings = sink.Patch{"storage.level.local.encoding.sync.wait": false}
	if err := m.PutSource(src); err != nil {
		t.Fatal(err)
	}
	evs, _ := events(0, 1)
	w, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.WaitsForSync() {
		t.Fatal("sync.wait=false from the source: the write waits for the sync")
	}
	views, err := m.SinkSettings(sinkKey(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if v.Key == "storage.level.local.encoding.sync.wait" && (v.Value != false || v.Overwritten) {
			t.Fatalf("sink view = %+v", v)
		}
	}
	if src, _ := m.Source(sourceKey); src.Version != 2 {
		t.Fatalf("source version = %d", src.Version)
	}
}

// Putting the same definitions again, as every start of a daemon with a config file does, is
// not a change: versions stay and the file being written stays open.
func TestSameDefinitionIsNotAChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, syncEachBatch, "in.c-l.same")
	writeBatches(t, m, 0, 10, 10)
	before, err := m.SinkFiles(sinkKey(0), false)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		define(t, m, columns, syncEachBatch, "in.c-l.same")
	}
	if src, _ := m.Source(sourceKey); src.Version != 1 {
		t.Fatalf("source version %d after putting the same definition again, want 1", src.Version)
	}
	after, err := m.SinkFiles(sinkKey(0), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || after[len(after)-1].State != before[len(before)-1].State {
		t.Fatalf("files %+v, then %+v: the same definition closed a file", before, after)
	}
	define(t, m, columns, patch(syncEachBatch, "staging.upload.trigger.count", 5), "in.c-l.same")
	e.eventually("a changed definition closes the file", 10*time.Second, func() bool {
		files, _ := m.SinkFiles(sinkKey(0), false)
		return len(files) > len(before)
	})
}

// One process per data directory: a second manager on the same directory is refused before
// it reads anything, and the directory is free again once the first is closed.
func TestDataDirIsLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.manager(sink.Deps{})
	define(t, first, columns, syncEachBatch, "in.c-l.lock")
	_, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url)})
	if !errors.Is(err, sink.ErrDataDirInUse) || !strings.Contains(err.Error(), "sink.dataDir") ||
		!strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second manager on the same directory: %v; want ErrDataDirInUse naming sink.dataDir and the holder's pid", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url)})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	if err := again.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Restarts of a daemon whose definitions come from its config file (the same definitions put
// again at every start) import nothing when no record arrived: a restart is not a change.
func TestRestartsWithoutRecordsImportNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	open := func() *sink.Manager {
		m, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
		if err != nil {
			t.Fatal(err)
		}
		// 24h: waiting for the first import below advances the fake clock 30 s per poll, which
		// on a busy machine can add up to an hour.
		define(t, m, columns, patch(syncEachBatch, "target.import.trigger.count", 10, "target.import.trigger.interval", "24h"), "in.c-l.restarts")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = m.Run(ctx); close(done) }()
		<-m.Ready()
		t.Cleanup(func() { cancel(); <-done })
		return m
	}
	m := open()
	ws := writeBatches(t, m, 0, 10, 10)
	e.eventually("imported", 30*time.Second, func() bool { return reached(ws, sink.LevelTarget) })
	writeBatches(t, m, 10, 5, 5) // below the import trigger: they wait in the file being written
	imports := e.em.em.Calls("importTable")
	for range 10 {
		if err := m.Close(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		m = open()
		e.clk.Advance(2 * time.Second)
		time.Sleep(300 * time.Millisecond) // time for a rotation, an upload and an import, if any
	}
	if err := m.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := e.em.em.Calls("importTable") - imports; got != 0 {
		t.Fatalf("10 restarts without new records made %d imports", got)
	}
	checkTable(t, e, "in.c-l.restarts", 10) // the 5 rows still wait for the trigger
}
