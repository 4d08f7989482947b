package sink_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

// Drain imports what every sink holds although no trigger fired (the fake clock stands still
// and the count triggers are far away), the rows of every write reach the target level, and a
// write after it is refused.
func TestDrainImportsWhatTheTriggersHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	far := patch(syncEachBatch, "staging.upload.trigger.count", 1_000_000, "target.import.trigger.count", 1_000_000)
	define(t, m, keyed(columns), far, "in.c-drain.a", "in.c-drain.b")
	var writes []*sink.Write
	for b := range 3 {
		evs, pos := events(100*b, 100)
		w, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Wait(ctxT(t, 5*time.Second), sink.LevelLocal); err != nil {
			t.Fatal(err)
		}
		writes = append(writes, w)
	}
	if ok, _ := writes[0].Reached(sink.LevelStaging); ok {
		t.Fatal("uploaded before the drain: the triggers fired")
	}

	drained := make(chan error, 1)
	go func() { drained <- m.Drain(ctxT(t, 30*time.Second)) }()
	var err error
	e.eventually("the drain", 100*time.Millisecond, func() bool { // job polls wait on the clock
		select {
		case err = <-drained:
			return true
		default:
			return false
		}
	})
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	for _, w := range writes {
		if ok, err := w.Reached(sink.LevelTarget); !ok || err != nil {
			t.Fatalf("a write did not reach the table: %t, %v", ok, err)
		}
	}
	for _, table := range []string{"in.c-drain.a", "in.c-drain.b"} {
		if n := len(e.em.rows(t, table)); n != 300 {
			t.Errorf("%s: %d rows, want 300", table, n)
		}
	}
	evs, pos := events(300, 1)
	if _, err := m.Write(ctxT(t, time.Second), sourceKey, evs, pos); err == nil {
		t.Fatal("a write after the drain was taken")
	}
	if err := m.Drain(ctxT(t, time.Second)); err != nil {
		t.Fatalf("a second drain: %v", err)
	}
}

// A drain whose imports cannot finish returns when its context ends, naming what is left.
func TestDrainGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, keyed(columns), patch(syncEachBatch, "target.import.trigger.count", 1_000_000), "in.c-drain.c")
	evs, pos := events(0, 10)
	w, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(ctxT(t, 5*time.Second), sink.LevelLocal); err != nil {
		t.Fatal(err)
	}
	e.em.em.InjectFault(emulator.Fault{Endpoint: "prepareFile", Count: 1_000, Status: 503}) // nothing uploads
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = m.Drain(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 files with 10 records not imported") {
		t.Fatalf("drain with Storage failing: %v", err)
	}
}
