package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbridge/kbridge/bridge/cluster"
)

// A put on one member is on every member within 2 s; the writer answers with the new version
// once its own member has it.
func TestPutVisibleOnEveryMember(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m1, m2, m3 := startMember(t, c, config("m1")), startMember(t, c, config("m2")), startMember(t, c, config("m3"))
	if v := mustPut(t, m1, "source/a", 0, `{"name":"A"}`); v != 1 {
		t.Fatalf("version %d, want 1", v)
	}
	if e, ok := m1.Get("source/a"); !ok || string(e.Value) != `{"name":"A"}` {
		t.Fatalf("writer's member has %v %q after Put returned", ok, e.Value)
	}
	for _, m := range []*member{m2, m3} {
		eventually(t, 2*time.Second, m.name+" has source/a", func() bool {
			e, ok := m.Get("source/a")
			return ok && e.Version == 1 && string(e.Value) == `{"name":"A"}`
		})
	}
	if v := mustPut(t, m3, "source/a", 1, `{"name":"A2"}`); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
	eventually(t, 2*time.Second, "m1 has version 2", func() bool { e, _ := m1.Get("source/a"); return e.Version == 2 })
	if err := m2.Delete(ctxT(t), "source/a", 2); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{m1, m3} {
		eventually(t, 2*time.Second, m.name+" forgot source/a", func() bool { _, ok := m.Get("source/a"); return !ok })
	}
}

// Two members put the same key at the same expected version at once: exactly one wins, the
// other gets a conflict naming the winner's version, and every member ends with one state.
func TestConcurrentPutsOneWins(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ms := []*member{startMember(t, c, config("m1")), startMember(t, c, config("m2")), startMember(t, c, config("m3"))}
	for round := range 5 {
		key := fmt.Sprintf("source/%d", round)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, m := range ms[:2] {
			wg.Go(func() {
				<-start
				_, errs[i] = m.Put(ctxT(t), key, 0, []byte(m.name))
			})
		}
		close(start)
		wg.Wait()
		wins, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case isConflict(err):
				conflicts++
				if ce := (*cluster.ConflictError)(nil); errors.As(err, &ce) && ce.Current != 1 {
					t.Errorf("conflict says version %d, want 1: %v", ce.Current, err)
				}
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d wins, %d conflicts (%v)", round, wins, conflicts, errs)
		}
	}
	want := render(ms[0].Snapshot())
	for _, m := range ms {
		eventually(t, 2*time.Second, m.name+" has the same state as m1", func() bool { return render(m.Snapshot()) == want })
		if a, r := m.count(t, "kbridge_cluster_records_total", "accepted"), m.count(t, "kbridge_cluster_records_total", "refused"); a != 5 || r != 0 {
			t.Errorf("%s applied %d records, refused %d: a losing write was committed", m.name, a, r)
		}
	}
	ok := ms[0].count(t, "kbridge_cluster_writes_total", "ok") + ms[1].count(t, "kbridge_cluster_writes_total", "ok")
	conflicts := ms[0].count(t, "kbridge_cluster_writes_total", "conflict") + ms[1].count(t, "kbridge_cluster_writes_total", "conflict")
	if ok != 5 || conflicts != 5 {
		t.Fatalf("metrics count %d ok and %d conflicts, want 5 and 5", ok, conflicts)
	}
}

// A stale expected version, a create of an existing key and a delete of a missing one are
// conflicts carrying the current version, and change nothing.
func TestConflicts(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m := startMember(t, c, config("m1"))
	mustPut(t, m, "k", 0, "v1")
	mustPut(t, m, "k", 1, "v2")
	cases := []struct {
		name    string
		write   func() error
		current int64
	}{
		{"stale version", func() error { _, err := m.Put(ctxT(t), "k", 1, []byte("x")); return err }, 2},
		{"future version", func() error { _, err := m.Put(ctxT(t), "k", 7, []byte("x")); return err }, 2},
		{"create existing", func() error { _, err := m.Put(ctxT(t), "k", 0, []byte("x")); return err }, 2},
		{"delete stale", func() error { return m.Delete(ctxT(t), "k", 1) }, 2},
		{"delete missing", func() error { return m.Delete(ctxT(t), "nope", 0) }, 0},
		{"update missing", func() error { _, err := m.Put(ctxT(t), "nope", 3, []byte("x")); return err }, 0},
	}
	for _, tc := range cases {
		err := tc.write()
		var ce *cluster.ConflictError
		if !errors.Is(err, cluster.ErrConflict) || !errors.As(err, &ce) || ce.Current != tc.current || ce.StatusCode() != 409 {
			t.Errorf("%s: got %v, want a 409 conflict at version %d", tc.name, err, tc.current)
		}
	}
	if got := render(m.Snapshot()); got != "k@2=v2 " {
		t.Fatalf("state %q after refused writes", got)
	}
	if _, err := m.Put(ctxT(t), "k", 2, nil); err == nil {
		t.Fatal("an empty value was accepted")
	}
}

// A member started after the writes reads the whole history, replays it to its subscriber in
// log order and reaches the state of the others.
func TestLateMemberReadsHistory(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m1 := startMember(t, c, config("m1"))
	for i := range 10 {
		mustPut(t, m1, fmt.Sprintf("k%d", i%3), int64(i/3), fmt.Sprintf("v%d", i))
	}
	if err := m1.Delete(ctxT(t), "k1", 3); err != nil {
		t.Fatal(err)
	}
	late := startMember(t, c, config("late"))
	if got, want := render(late.Snapshot()), render(m1.Snapshot()); got != want || got != "k0@4=v9 k2@3=v8 " {
		t.Fatalf("late member has %q, m1 %q", got, want)
	}
	changes := late.delivered()
	if len(changes) != 11 {
		t.Fatalf("%d changes delivered, want 11", len(changes))
	}
	for i, ch := range changes {
		if !ch.Replay || ch.Writer != "m1" || i > 0 && ch.Offset <= changes[i-1].Offset {
			t.Fatalf("change %d: %+v", i, ch)
		}
	}
	if last := changes[10]; last.Key != "k1" || !last.Deleted || last.Value != nil {
		t.Fatalf("last change %+v, want the delete of k1", last)
	}
	mustPut(t, m1, "k1", 0, "again")
	eventually(t, 2*time.Second, "a live change reaches the late member", func() bool {
		ch := late.delivered()
		return len(ch) == 12 && !ch[11].Replay && ch[11].Key == "k1" && ch[11].Version == 1
	})
}

// A member stopped while keys were deleted sees the tombstones when it starts again.
func TestRestartedMemberSeesDeletes(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m1, m2 := startMember(t, c, config("m1")), startMember(t, c, config("m2"))
	for _, k := range []string{"a", "b", "c"} {
		mustPut(t, m1, k, 0, k)
	}
	eventually(t, 2*time.Second, "m2 has three keys", func() bool { return len(m2.Snapshot()) == 3 })
	m2.stop(t)
	for _, k := range []string{"a", "c"} {
		if err := m1.Delete(ctxT(t), k, 1); err != nil {
			t.Fatal(err)
		}
	}
	if got := render(m1.Snapshot()); got != "b@1=b " {
		t.Fatalf("m1 has %q", got)
	}
	again := startMember(t, c, config("m2"))
	if got := render(again.Snapshot()); got != "b@1=b " {
		t.Fatalf("restarted m2 has %q, want only b", got)
	}
}

// Writes need a running member: after Run returns they fail instead of hanging.
func TestWriteAfterStop(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m := startMember(t, c, config("m1"))
	m.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Put(ctx, "k", 0, []byte("v")); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put on a stopped member: %v", err)
	}
}

// A member is not ready while it has not applied the log it found at boot: here its fetches
// are held by the broker, and it becomes ready, with the whole state, once they are answered.
func TestReadyOnlyWhenCaughtUp(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m1 := startMember(t, c, config("m1"))
	for _, k := range []string{"a", "b", "c"} {
		mustPut(t, m1, k, 0, k)
	}
	release := make(chan struct{})
	var held atomic.Int32
	c.ControlKey(kmsg.Fetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, tp := range req.(*kmsg.FetchRequest).Topics {
			for _, p := range tp.Partitions {
				if p.FetchOffset == 0 { // the late member's: m1 is past offset 0
					held.Add(1)
					c.SleepControl(func() { <-release })
				}
			}
		}
		return nil, nil, false
	})
	late := runMember(t, c, config("late"))
	eventually(t, 10*time.Second, "the late member's fetch reaches the broker", func() bool { return held.Load() >= 1 })
	select {
	case <-late.Ready():
		t.Fatal("ready before applying the log")
	default:
	}
	if n := len(late.Snapshot()); n != 0 {
		t.Fatalf("%d keys without a fetch answered", n)
	}
	close(release)
	if err := late.CaughtUp(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := render(late.Snapshot()); got != "a@1=a b@1=b c@1=c " {
		t.Fatalf("ready with %q", got)
	}
}

// Three members increment one counter by compare-and-set, retrying on conflicts: no increment
// is lost or doubled, so the final version and value are the number of successful writes.
func TestCompareAndSetCounter(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ms := []*member{startMember(t, c, config("m1")), startMember(t, c, config("m2")), startMember(t, c, config("m3"))}
	const perMember = 8
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			for done := 0; done < perMember; {
				e, _ := m.Get("counter")
				n, _ := strconv.Atoi(string(e.Value)) // 0 before the first write
				_, err := m.Put(ctxT(t), "counter", e.Version, fmt.Append(nil, n+1))
				switch {
				case err == nil:
					done++
				case !isConflict(err):
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	const want = "counter@24=24 "
	for _, m := range ms {
		eventually(t, 2*time.Second, m.name+" has the final count", func() bool { return render(m.Snapshot()) == want })
	}
}
