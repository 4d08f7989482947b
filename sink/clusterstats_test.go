package sink_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/clock"
)

// statusBoard is an in-memory status topic: every member's last status of every key.
type statusBoard struct {
	mu    sync.Mutex
	byKey map[string]map[string][]byte
}

// memberBoard is the board as one member sees it (cluster.Statuses of that member).
type memberBoard struct {
	b      *statusBoard
	member string
}

func (m memberBoard) Publish(_ context.Context, key string, status []byte) error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if m.b.byKey == nil {
		m.b.byKey = map[string]map[string][]byte{}
	}
	if m.b.byKey[key] == nil {
		m.b.byKey[key] = map[string][]byte{}
	}
	m.b.byKey[key][m.member] = append([]byte(nil), status...)
	return nil
}

func (m memberBoard) Remove(_ context.Context, key string) error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	delete(m.b.byKey[key], m.member)
	return nil
}

func (m memberBoard) Of(key string) map[string][]byte {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range m.b.byKey[key] {
		out[k] = v
	}
	return out
}

// memberStatistics is the cluster statistics of member, publishing every 10 ms on board.
func memberStatistics(t *testing.T, m *sink.Manager, board *statusBoard, member string) *sink.ClusterStatistics {
	t.Helper()
	c, err := sink.NewClusterStatistics(m, memberBoard{board, member}, member, 10*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two replicas write different rows of one sink into one table: each one's statistics answer
// its own rows until the other publishes, then both answer the rows of the table; a replica
// that stops publishes its last totals, and they stay counted after it left.
func TestClusterStatisticsSumReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := &env{t: t, em: e.em, clk: e.clk, dir: t.TempDir()}
	m1, m2 := e.manager(sink.Deps{}), other.manager(sink.Deps{})
	const table = "in.c-t.cluster"
	define(t, m1, keyed(columns), syncEachBatch, table)
	define(t, m2, keyed(columns), syncEachBatch, table)
	ws := append(writeBatches(t, m1, 0, 10, 5), writeBatches(t, m2, 10, 20, 5)...)
	e.eventually("every row imported", 30*time.Second, func() bool { return reached(ws, sink.LevelTarget) })
	checkTable(t, e, table, 30)

	board := &statusBoard{}
	c1, c2 := memberStatistics(t, m1, board, "r1"), memberStatistics(t, m2, board, "r2")
	total := func(c *sink.ClusterStatistics) sink.Statistics {
		t.Helper()
		st, err := c.SinkStatistics(sinkKey(0))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if got := total(c1).Total.RecordsCount; got != 10 {
		t.Fatalf("replica 1 before any publication: %d records, want its own 10", got)
	}

	ctx1, stop1 := context.WithCancel(context.Background())
	ctx2, stop2 := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c1.Run(ctx1, 5*time.Second) })
	wg.Go(func() { _ = c2.Run(ctx2, 5*time.Second) })
	defer func() { stop1(); stop2(); wg.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for total(c1).Total.RecordsCount != 30 || total(c2).Total.RecordsCount != 30 {
		if time.Now().After(deadline) {
			t.Fatalf("not summed: replica 1 %+v, replica 2 %+v", total(c1).Total, total(c2).Total)
		}
		time.Sleep(5 * time.Millisecond) // a poll interval
	}
	own1, _ := m1.SinkStatistics(sinkKey(0))
	own2, _ := m2.SinkStatistics(sinkKey(0))
	for i, c := range []*sink.ClusterStatistics{c1, c2} {
		st := total(c)
		if st.Levels.Target == nil || st.Levels.Target.RecordsCount != 30 || st.Levels.Local != nil || st.Levels.Staging != nil {
			t.Errorf("replica %d levels: %+v", i+1, st.Levels)
		}
		if want := own1.Total.UncompressedSize + own2.Total.UncompressedSize; st.Total.UncompressedSize != want {
			t.Errorf("replica %d uncompressed size %d, want %d", i+1, st.Total.UncompressedSize, want)
		}
	}

	// statistics/files lists the files of both, their records adding up to the table's.
	files1, _ := m1.SinkFiles(sinkKey(0), false)
	files2, _ := m2.SinkFiles(sinkKey(0), false)
	for i, c := range []*sink.ClusterStatistics{c1, c2} {
		files, err := c.SinkFiles(sinkKey(0), false)
		if err != nil {
			t.Fatal(err)
		}
		var records int64
		for _, f := range files {
			records += f.Statistics.Total.RecordsCount
		}
		if len(files) != len(files1)+len(files2) || records != 30 {
			t.Errorf("replica %d lists %d files with %d records, want %d files with 30", i+1, len(files), records, len(files1)+len(files2))
		}
		if failed, err := c.SinkFiles(sinkKey(0), true); err != nil || len(failed) != 0 {
			t.Errorf("replica %d failed files: %v %v, want none", i+1, failed, err)
		}
	}

	// Replica 2 stops (and leaves): what it published last is still counted by replica 1.
	stop2()
	if got := total(c1).Total.RecordsCount; got != 30 {
		t.Fatalf("replica 1 after replica 2 left: %d records, want 30", got)
	}
	if files, err := c1.SinkFiles(sinkKey(0), false); err != nil || len(files) != len(files1)+len(files2) {
		t.Fatalf("replica 1 after replica 2 left lists %d files (%v), want %d", len(files), err, len(files1)+len(files2))
	}

	// A sink deleted on a replica has its statuses removed from the board.
	if err := m1.DeleteSink(sinkKey(0), sink.Actor{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(memberBoard{board, "x"}.Of("statistics/"+sinkKey(0).String())) != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("replica 1's totals of the deleted sink stay: %v", memberBoard{board, "x"}.Of("statistics/"+sinkKey(0).String()))
		}
	}
}

// SumStatistics adds counts and sizes per level and keeps the earliest first and the latest
// last record time.
func TestSumStatistics(t *testing.T) {
	t.Parallel()
	at := func(s int) *sink.Time { return &sink.Time{Time: start.Add(time.Duration(s) * time.Second)} }
	lvl := func(n int64, first, last int) *sink.LevelStatistics {
		return &sink.LevelStatistics{RecordsCount: n, CompressedSize: 10 * n, UncompressedSize: 100 * n, FirstRecordAt: at(first), LastRecordAt: at(last)}
	}
	for _, tc := range []struct {
		name    string
		a, b    sink.Statistics
		want    sink.Statistics
		wantNil [3]bool // local, staging, target absent
	}{
		{name: "empty", wantNil: [3]bool{true, true, true}},
		{name: "one side only",
			a:       sink.Statistics{Total: *lvl(3, 1, 2), Levels: sink.Levels{Target: lvl(3, 1, 2)}},
			want:    sink.Statistics{Total: *lvl(3, 1, 2), Levels: sink.Levels{Target: lvl(3, 1, 2)}},
			wantNil: [3]bool{true, true, false}},
		{name: "both, different levels",
			a:       sink.Statistics{Total: *lvl(3, 5, 6), Levels: sink.Levels{Target: lvl(3, 5, 6)}},
			b:       sink.Statistics{Total: *lvl(4, 2, 9), Levels: sink.Levels{Local: lvl(1, 8, 9), Target: lvl(3, 2, 4)}},
			want:    sink.Statistics{Total: *lvl(7, 2, 9), Levels: sink.Levels{Local: lvl(1, 8, 9), Target: lvl(6, 2, 6)}},
			wantNil: [3]bool{false, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sink.SumStatistics(tc.a, tc.b)
			if !sameLevel(got.Total, tc.want.Total) {
				t.Errorf("total %+v, want %+v", got.Total, tc.want.Total)
			}
			for i, pair := range [][2]*sink.LevelStatistics{{got.Levels.Local, tc.want.Levels.Local},
				{got.Levels.Staging, tc.want.Levels.Staging}, {got.Levels.Target, tc.want.Levels.Target}} {
				if (pair[0] == nil) != tc.wantNil[i] || (pair[0] != nil && !sameLevel(*pair[0], *pair[1])) {
					t.Errorf("level %d: %+v, want %+v", i, pair[0], pair[1])
				}
			}
		})
	}
}

func sameLevel(a, b sink.LevelStatistics) bool {
	same := func(x, y *sink.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(y.Time)) }
	return a.RecordsCount == b.RecordsCount && a.CompressedSize == b.CompressedSize && a.UncompressedSize == b.UncompressedSize &&
		same(a.FirstRecordAt, b.FirstRecordAt) && same(a.LastRecordAt, b.LastRecordAt)
}

// A statistics/clear on one replica restarts the numbers of both, although the other's clock
// runs an hour behind: the file it opens for the reset is above the reset point, so what it
// writes afterwards counts everywhere, and it does not clear again at every interval.
func TestClusterStatisticsClearWithClockBehind(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	behind := &env{t: t, em: e.em, clk: clock.NewFake(time.Now().Add(-time.Hour)), dir: t.TempDir()}
	m1, m2 := e.manager(sink.Deps{}), behind.manager(sink.Deps{})
	const table = "in.c-t.clear"
	define(t, m1, keyed(columns), syncEachBatch, table)
	define(t, m2, keyed(columns), syncEachBatch, table)
	ws := append(writeBatches(t, m1, 0, 10, 5), writeBatches(t, m2, 10, 10, 5)...)
	e.eventually("every row imported", 30*time.Second, func() bool { behind.clk.Advance(time.Second); return reached(ws, sink.LevelTarget) })

	board := &statusBoard{}
	c1, c2 := memberStatistics(t, m1, board, "r1"), memberStatistics(t, m2, board, "r2")
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c1.Run(ctx, 5*time.Second) })
	wg.Go(func() { _ = c2.Run(ctx, 5*time.Second) })
	defer func() { stop(); wg.Wait() }()
	records := func(c *sink.ClusterStatistics) int64 {
		st, err := c.SinkStatistics(sinkKey(0))
		if err != nil {
			t.Fatal(err)
		}
		return st.Total.RecordsCount
	}
	both := func(what string, want int64) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); records(c1) != want || records(c2) != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: replica 1 counts %d, replica 2 %d, want %d", what, records(c1), records(c2), want)
			}
		}
	}
	both("summed", 20)

	if err := c1.ClearStatistics(sinkKey(0)); err != nil {
		t.Fatal(err)
	}
	both("after the clear", 0)
	files := func() int { f, _ := m2.SinkFiles(sinkKey(0), false); return len(f) }
	settled := files()
	time.Sleep(200 * time.Millisecond) // twenty intervals: a replica clearing again would rotate
	if n := files(); n != settled {
		t.Fatalf("replica 2 went from %d to %d files after applying the clear once", settled, n)
	}

	ws = writeBatches(t, m2, 100, 5, 5)
	e.eventually("the rows written after the clear imported", 30*time.Second, func() bool {
		behind.clk.Advance(time.Second)
		return reached(ws, sink.LevelTarget)
	})
	both("the rows written after the clear", 5)
}
