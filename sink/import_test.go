package sink_test

import (
	"github.com/kbridge/kbridge/storageapi/emulator"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
)

func TestAtMostJobLimitImportsPerSink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.em.em.SlowJobs(100 * time.Millisecond)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(syncEachBatch, "staging.upload.trigger.count", 10, "target.import.trigger.count", 10), "in.c-j.events")
	maxImporting := 0
	files := func() []sink.FileStatistics {
		files, err := m.SinkFiles(sinkKey(0), false)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range files {
			if f.State == sink.FileImporting {
				n++
			}
		}
		maxImporting = max(maxImporting, n)
		return files
	}
	defer func() {
		if t.Failed() {
			for _, f := range files() {
				t.Logf("%s %s slices %d records %d retry %q job %d", f.ID, f.State, f.Slices, f.Statistics.Total.RecordsCount, f.RetryReason, f.JobID)
			}
		}
	}()
	var ws []*sink.Write
	for i := range 8 { // each batch fills a file: 8 files, at most 2 importing
		ws = append(ws, writeBatches(t, m, i*10, 10, 10)...)
		e.eventually("the file rotated", 0, func() bool { return len(files()) == i+2 })
	}
	e.eventually("every file imported", 0, func() bool {
		files()
		return reached(ws, sink.LevelTarget)
	})
	if maxImporting != 2 {
		t.Fatalf("at most %d files importing at once, want the limit of 2 reached and kept", maxImporting)
	}
	checkTable(t, e, "in.c-j.events", 80)
}

func TestRestartRepollsTheImportJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.em.em.SlowJobs(time.Second)
	cfg := testConfig(e.dir)
	first, err := sink.New(cfg, sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	stop := runUntil(t, first)
	define(t, first, columns, patch(syncEachBatch, "target.import.trigger.count", 10), "in.c-r.events")
	writeBatches(t, first, 0, 20, 20) // one batch, one file, one job
	e.eventually("a job started", 0, func() bool {
		files, _ := first.SinkFiles(sinkKey(0), false)
		for _, f := range files {
			if f.JobID != 0 {
				return true
			}
		}
		return false
	})
	stop()
	second := e.manager(sink.Deps{})
	e.eventually("imported after restart", time.Second, func() bool {
		st, _ := second.SinkStatistics(sinkKey(0))
		return st.Levels.Target != nil && st.Levels.Target.RecordsCount == 20
	})
	checkTable(t, e, "in.c-r.events", 20)
	if n := e.em.em.Calls("importTable"); n != 1 {
		t.Fatalf("%d imports started, want 1 (the job is re-polled)", n)
	}
}

func TestWatermarksFollowTheLevels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(nil, "local.encoding.sync.countTrigger", 10), "in.c-w.a", "in.c-w.b")
	if _, ok := m.Watermark(sourceKey, "t/0", sink.LevelLocal); ok {
		t.Fatal("watermark of an unknown stream")
	}
	progress := m.Progress()
	ws := writeBatches(t, m, 0, 30, 10)
	select {
	case <-progress:
	default:
		t.Fatal("Progress did not signal the syncs")
	}
	if wm, ok := m.Watermark(sourceKey, "t/0", sink.LevelLocal); !ok || wm != 29 {
		t.Fatalf("local watermark = %d, %v", wm, ok)
	}
	if _, ok := m.Watermark(sourceKey, "t/0", sink.LevelStaging); ok {
		t.Fatal("staging watermark before any upload")
	}
	e.clk.Advance(30 * time.Second)
	e.eventually("staging", 0, func() bool { return reached(ws, sink.LevelStaging) })
	if wm, ok := m.Watermark(sourceKey, "t/0", sink.LevelStaging); !ok || wm != 29 {
		t.Fatalf("staging watermark = %d, %v", wm, ok)
	}
	if _, ok := m.Watermark(sourceKey, "t/0", sink.LevelTarget); ok {
		t.Fatal("target watermark before the import")
	}
	rec, err := m.Recovered(sourceKey)
	if err != nil || rec["t/0"] != 29 {
		t.Fatalf("recovered = %v, %v", rec, err)
	}
	e.clk.Advance(30 * time.Second)
	e.eventually("target", 0, func() bool { return reached(ws, sink.LevelTarget) })
	if wm, ok := m.Watermark(sourceKey, "t/0", sink.LevelTarget); !ok || wm != 29 {
		t.Fatalf("target watermark = %d, %v", wm, ok)
	}
	files, _ := m.SinkFiles(sinkKey(1), false)
	if len(files) == 0 || files[0].State != sink.FileImported || !strings.HasPrefix(files[0].ID, "20") {
		t.Fatalf("files = %+v", files)
	}
}

// TestRestartResumesWhereItStopped stops the manager while a slice waits for its upload or a
// file for its import (each failed once) and checks a new manager finishes the work.
func TestRestartResumesWhereItStopped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ endpoint, state string }{
		{"putBlob", sink.FileClosing},
		{"importTable", sink.FileImporting},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.em.em.InjectFault(emulator.Fault{Endpoint: tc.endpoint, Count: 1, Status: 503})
			first, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
			if err != nil {
				t.Fatal(err)
			}
			stop := runUntil(t, first)
			define(t, first, columns, patch(syncEachBatch, "target.import.trigger.count", 10), "in.c-r.events")
			writeBatches(t, first, 0, 20, 10)
			e.eventually("the failure recorded", 0, func() bool {
				files, _ := first.SinkFiles(sinkKey(0), true)
				return len(files) == 1 && files[0].State == tc.state && strings.Contains(files[0].RetryReason, "503")
			})
			stop()
			second := e.manager(sink.Deps{})
			e.eventually("imported after restart", time.Minute, func() bool {
				st, _ := second.SinkStatistics(sinkKey(0))
				return st.Levels.Target != nil && st.Levels.Target.RecordsCount == 20
			})
			checkTable(t, e, "in.c-r.events", 20)
		})
	}
}
