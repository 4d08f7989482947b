package sink_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
)

// ClearStatistics restarts the totals from zero and hides earlier files; rows written after it
// are counted, rows written before it are still imported, and the reset survives a restart.
func TestClearStatistics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, keyed(columns), syncEachBatch, "in.c-t.reset")
	writeBatches(t, m, 0, 30, 10)
	total := func() int64 {
		st, err := m.SinkStatistics(sinkKey(0))
		if err != nil {
			t.Fatal(err)
		}
		return st.Total.RecordsCount
	}
	if got := total(); got != 30 {
		t.Fatalf("before the reset: %d records, want 30", got)
	}

	if err := m.ClearSourceStatistics(sourceKey); err != nil {
		t.Fatal(err)
	}
	if got := total(); got != 0 {
		t.Fatalf("after the reset: %d records, want 0", got)
	}
	files, err := m.SinkFiles(sinkKey(0), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Statistics.Total.RecordsCount != 0 {
			t.Fatalf("a file from before the reset is listed: %+v", f)
		}
	}

	e.clk.Advance(time.Millisecond)
	ws := writeBatches(t, m, 30, 5, 5)
	if got := total(); got != 5 {
		t.Fatalf("after 5 more rows: %d records, want 5", got)
	}
	// Everything, before and after the reset, reaches the table.
	e.eventually("every row imported", 30*time.Second, func() bool { return reached(ws, sink.LevelTarget) && len(e.em.rows(t, "in.c-t.reset")) == 35 })
	checkTable(t, e, "in.c-t.reset", 35)

	// A manager opened over the same data directory keeps the reset point.
	if err := m.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	again, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctxT(t, 5*time.Second))
	if st, err := again.SinkStatistics(sinkKey(0)); err != nil || st.Total.RecordsCount != 5 {
		t.Fatalf("after reopening: %+v, %v; want 5 records", st.Total, err)
	}
	unknown := sink.SinkKey{SourceKey: sourceKey, SinkID: "nope"}
	if err := again.ClearStatistics(unknown); !errors.Is(err, sink.ErrSinkNotFound) {
		t.Fatalf("clearing an unknown sink: %v", err)
	}
}
