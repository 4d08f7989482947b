package sink_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// writeBatches writes n events in batches, waits until each batch is local, and returns
// the handles.
func writeBatches(t testing.TB, m *sink.Manager, first, n, batch int) []*sink.Write {
	t.Helper()
	return writeEvents(t, m, first, n, batch, true)
}

// writeEvents writes events first to first+n in batches, with their Kafka positions or, when
// withPositions is false, as HTTP events (no position).
func writeEvents(t testing.TB, m *sink.Manager, first, n, batch int, withPositions bool) []*sink.Write {
	t.Helper()
	var out []*sink.Write
	for i := first; i < first+n; i += batch {
		evs, pos := events(i, min(batch, first+n-i))
		if !withPositions {
			pos = nil
		}
		w, err := m.Write(ctxT(t, time.Minute), sourceKey, evs, pos)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if w.Failed() != 0 {
			t.Fatalf("write %d: %d events failed: %v", i, w.Failed(), w.Err(0))
		}
		if !w.WaitsForSync() {
			t.Fatalf("write %d: WaitsForSync is false with sync.wait=true", i)
		}
		if err := w.Wait(ctxT(t, time.Minute), sink.LevelLocal); err != nil {
			t.Fatalf("wait local %d: %v", i, err)
		}
		out = append(out, w)
	}
	return out
}

func reached(ws []*sink.Write, level sink.Level) bool {
	for _, w := range ws {
		if ok, _ := w.Reached(level); !ok {
			return false
		}
	}
	return true
}

// checkTable asserts the table holds exactly ids [0, n) with the rendered values.
func checkTable(t testing.TB, e *env, tableID string, n int) {
	t.Helper()
	rows := e.em.rows(t, tableID)
	if len(rows) != n {
		t.Fatalf("table %s has %d rows, want %d: %v", tableID, len(rows), n, rows)
	}
	for i := range n {
		id := strconv.Itoa(i)
		r, ok := rows[id]
		if !ok {
			t.Fatalf("table %s lacks id %s: %q", tableID, id, rows)
		}
		if want := []string{id, `name "` + id + `", with comma`, strconv.Itoa(i * 10)}; r[0] != want[0] || r[1] != want[1] || r[2] != want[2] {
			t.Fatalf("row %s = %q, want %q", id, r, want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, compression string
		primaryKey        bool
	}{
		{"gzip", "gzip", false},
		{"none", "none", false},
		{"gzip-pk", "gzip", true},
		{"none-pk", "none", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			m := e.manager(sink.Deps{})
			cols := columns
			if tc.primaryKey {
				cols = keyed(columns)
			}
			define(t, m, cols, patch(syncEachBatch, "local.encoding.compression.type", tc.compression,
				"staging.upload.trigger.count", 70, "target.import.trigger.count", 200), "in.c-e2e.events")
			const n = 500
			ws := writeBatches(t, m, 0, n, 25)
			if tc.primaryKey {
				ws = append(ws, writeEvents(t, m, 0, 100, 25, false)...) // replayed without positions: deduplicated by the key
			}
			e.eventually("every row imported", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
			checkTable(t, e, "in.c-e2e.events", n)

			st, err := m.SinkStatistics(sinkKey(0))
			if err != nil {
				t.Fatal(err)
			}
			want := int64(n)
			if tc.primaryKey {
				want += 100
			}
			if st.Total.RecordsCount != want || st.Levels.Target == nil || st.Levels.Target.RecordsCount != want || st.Levels.Local != nil {
				t.Fatalf("statistics = %+v, want %d records all in target", st, want)
			}
			if st.Total.CompressedSize <= 0 || st.Total.UncompressedSize <= 0 ||
				(tc.compression == "gzip") != (st.Total.CompressedSize < st.Total.UncompressedSize) {
				t.Fatalf("sizes = %d compressed, %d uncompressed", st.Total.CompressedSize, st.Total.UncompressedSize)
			}
			if st.Total.FirstRecordAt == nil || st.Total.LastRecordAt == nil {
				t.Fatalf("record times missing: %+v", st.Total)
			}
		})
	}
}

func TestTwoSinksReceiveEveryRow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, syncEachBatch, "in.c-e2e.a", "in.c-e2e.b")
	ws := writeBatches(t, m, 0, 120, 40)
	e.eventually("imported", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
	checkTable(t, e, "in.c-e2e.a", 120)
	checkTable(t, e, "in.c-e2e.b", 120)
	wm, ok := m.Watermark(sourceKey, "t/0", sink.LevelTarget)
	if !ok || wm != 119 {
		t.Fatalf("target watermark = %d, %v; want 119", wm, ok)
	}
}

func TestTriggers(t *testing.T) {
	t.Parallel()
	high := patch(syncEachBatch, "staging.upload.trigger.count", 10_000_000, "target.import.trigger.count", 10_000_000,
		"staging.upload.trigger.size", "50MB", "target.import.trigger.size", "500MB", "local.encoding.compression.type", "none")
	t.Run("count", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		m := e.manager(sink.Deps{})
		define(t, m, columns, patch(high, "staging.upload.trigger.count", 10, "target.import.trigger.count", 30), "in.c-t.count")
		ws := writeBatches(t, m, 0, 30, 10)
		e.eventually("imported by count", 0, func() bool { return reached(ws, sink.LevelTarget) })
		checkTable(t, e, "in.c-t.count", 30)
	})
	t.Run("size", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		m := e.manager(sink.Deps{})
		define(t, m, columns, patch(high, "staging.upload.trigger.size", "100B", "target.import.trigger.size", "1KB"), "in.c-t.size")
		ws := writeBatches(t, m, 0, 40, 10) // about 500 bytes per batch
		e.eventually("first batches imported by size", 0, func() bool { return reached(ws[:1], sink.LevelTarget) })
	})
	t.Run("time", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		m := e.manager(sink.Deps{})
		define(t, m, columns, high, "in.c-t.time")
		ws := writeBatches(t, m, 0, 10, 10)
		if ok, _ := ws[0].Reached(sink.LevelStaging); ok {
			t.Fatal("uploaded before the interval")
		}
		e.clk.Advance(30 * time.Second) // staging.upload.trigger.interval
		if err := ws[0].Wait(ctxT(t, time.Minute), sink.LevelStaging); err != nil {
			t.Fatal(err)
		}
		if ok, _ := ws[0].Reached(sink.LevelTarget); ok {
			t.Fatal("imported before the interval")
		}
		e.clk.Advance(30 * time.Second) // target.import.trigger.interval is 1m
		if err := ws[0].Wait(ctxT(t, time.Minute), sink.LevelTarget); err != nil {
			t.Fatal(err)
		}
		checkTable(t, e, "in.c-t.time", 10)
	})
}

func TestChangingImportConditionsImportsAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, syncEachBatch, "in.c-t.change")
	ws := writeBatches(t, m, 0, 20, 10)
	sinks, err := m.Sinks(sourceKey)
	if err != nil {
		t.Fatal(err)
	}
	def := sinks[0]
	def.Settings = patch(def.Settings, "target.import.trigger.count", 5)
	if err := m.PutSink(def); err != nil {
		t.Fatal(err)
	}
	e.eventually("imported after the change", 0, func() bool { return reached(ws, sink.LevelTarget) })
	checkTable(t, e, "in.c-t.change", 20)
}

func TestDefinitionsSurviveRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, keyed(columns), patch(nil, "target.import.trigger.count", 7), "in.c-t.defs")
	if err := m.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close(ctxT(t, 5*time.Second))
	sinks, err := got.Sinks(sourceKey)
	if err != nil || len(sinks) != 1 {
		t.Fatalf("sinks = %v, %v", sinks, err)
	}
	if s := sinks[0]; s.TableID != "in.c-t.defs" || !s.Columns[0].PrimaryKey || s.Settings["storage.level.target.import.trigger.count"] != float64(7) {
		t.Fatalf("sink after restart = %+v", s)
	}
	if _, ok := got.Source(sourceKey); !ok {
		t.Fatal("source lost")
	}
}

func TestNoEnabledSink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	if err := m.PutSource(sink.Source{Key: sourceKey, Type: "http", Name: "x"}); err != nil {
		t.Fatal(err)
	}
	evs, _ := events(0, 1)
	if _, err := m.Write(ctxT(t, time.Second), sourceKey, evs, nil); !errorsIs(err, sink.ErrNoEnabledSink) {
		t.Fatalf("write = %v, want ErrNoEnabledSink", err)
	}
	define(t, m, columns, nil, "in.c-t.x")
	sinks, _ := m.Sinks(sourceKey)
	sinks[0].Disabled = true
	if err := m.PutSink(sinks[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Write(ctxT(t, time.Second), sourceKey, evs, nil); !errorsIs(err, sink.ErrNoEnabledSink) {
		t.Fatalf("write to disabled sink = %v, want ErrNoEnabledSink", err)
	}
}

func TestRenderErrorsAreReportedPerEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		write   func(*sink.Manager, context.Context, sink.SourceKey, []mapping.Event, []sink.Position) (*sink.Write, error)
		written int // the other events are written by Write, none by WriteBatch
	}{
		{"Write", (*sink.Manager).Write, 2},
		{"WriteBatch", (*sink.Manager).WriteBatch, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			m := e.manager(sink.Deps{})
			define(t, m, columns, syncEachBatch, "in.c-t.bad")
			evs, pos := events(0, 3)
			evs[1].Body = []byte(`{"id":"1"}`) // no name: the path column fails
			w, err := tc.write(m, ctxT(t, 5*time.Second), sourceKey, evs, pos)
			if err != nil {
				t.Fatal(err)
			}
			var ce *mappingColumnError
			if w.Failed() != 1 || w.Written() != tc.written || w.Err(0) != nil || !errorsAs(w.Err(1), &ce) || ce.Column != "name" {
				t.Fatalf("failed %d written %d err(1) %v", w.Failed(), w.Written(), w.Err(1))
			}
			if err := w.Wait(ctxT(t, 5*time.Second), sink.LevelLocal); err != nil {
				t.Fatal(err)
			}
			st, _ := m.SinkStatistics(sinkKey(0))
			if st.Total.RecordsCount != int64(tc.written) {
				t.Fatalf("records = %d, want %d", st.Total.RecordsCount, tc.written)
			}
		})
	}
}

// Kafka positions written again (a retried batch, a re-read) are appended once per sink; a
// rewind's positions (Again) are written whatever the sink holds.
func TestPositionsWrittenAgainLandOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m := e.manager(sink.Deps{Registerer: reg})
	define(t, m, columns, patch(syncEachBatch, "target.import.trigger.count", 85), "in.c-t.again")
	ws := writeBatches(t, m, 0, 50, 25)
	ws = append(ws, writeBatches(t, m, 25, 50, 25)...) // 25 to 49 again, then 50 to 74
	evs, pos := events(0, 10)
	for i := range pos {
		pos[i].Again = true // rewound: written although held
	}
	w, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos)
	if err != nil {
		t.Fatal(err)
	}
	ws = append(ws, w)
	e.eventually("imported", 30*time.Second, func() bool { return reached(ws, sink.LevelTarget) })
	if rows := e.em.rows(t, "in.c-t.again"); len(rows) != 85 {
		t.Fatalf("%d rows, want 75 once and the 10 rewound ones again", len(rows))
	}
	if got := metricSum(t, reg, "kbridge_sink_records_held_again_total"); got != 25 {
		t.Fatalf("held again = %v, want 25", got)
	}
}
