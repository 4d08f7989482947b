package sink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi/durable"
)

// memLog is an in-memory SharedLog with bridge/cluster.Log's contract: a put at the expected
// version is applied and told to every subscriber in order before Put returns; any other is a
// conflict.
type memLog struct {
	mu      sync.Mutex
	entries map[string]sink.SharedEntry
	subs    []*sink.SharedDefinitions
}

func newMemLog() *memLog { return &memLog{entries: map[string]sink.SharedEntry{}} }

func (l *memLog) Put(_ context.Context, key string, expected int64, value []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur := l.entries[key].Version; cur != expected {
		return 0, fmt.Errorf("%w: %q is at version %d, expected %d", sink.ErrConflict, key, cur, expected)
	}
	v := expected + 1
	l.entries[key] = sink.SharedEntry{Value: value, Version: v}
	for _, s := range l.subs {
		s.Changed(key, value, v)
	}
	return v, nil
}

func (l *memLog) Entries() map[string]sink.SharedEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.entries)
}

// replica makes a Manager over its own data directory keeping its definitions in l, sealed
// with key; follow subscribes it to l's changes (a replica that does not follow misses them,
// as one that has not applied them yet).
func (e *env) replica(l *memLog, key durable.Key, follow bool) *sink.Manager {
	e.t.Helper()
	shared := sink.NewSharedDefinitions(l)
	if follow {
		l.mu.Lock()
		l.subs = append(l.subs, shared)
		l.mu.Unlock()
	}
	cfg := testConfig(e.t.TempDir())
	cfg.Encryption.Keys = key.String()
	m, err := sink.New(cfg, sink.Deps{Storage: newClient(e.t, e.em.url), Clock: e.clk, Shared: shared})
	if err != nil {
		e.t.Fatalf("new manager: %v", err)
	}
	run(e.t, m)
	return m
}

// Two replicas sharing one log: what one creates, changes and deletes, the other applies; the
// source's secret is sealed in the log; a replica writing over a version it has not applied
// gets ErrConflict and changes nothing.
func TestSharedDefinitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l, key := newMemLog(), durable.GenerateKey("k1")
	a, b := e.replica(l, key, true), e.replica(l, key, true)

	if err := a.PutSource(sink.Source{Key: sourceKey, Type: "http", Name: "events", Secret: sourceSecret}); err != nil {
		t.Fatal(err)
	}
	def := sink.Sink{Key: sinkKey(0), Name: "sink", TableID: "in.c-shared.events", Columns: columns}
	if err := a.PutSink(def); err != nil {
		t.Fatal(err)
	}
	e.eventually("b applies the source and the sink", 0, func() bool {
		src, ok := b.Source(sourceKey)
		sinks, _ := b.Sinks(sourceKey)
		return ok && src.Secret == sourceSecret && len(sinks) == 1 && sinks[0].TableID == def.TableID && sinks[0].Token != nil
	})
	// b creating what a created, after applying it, is a conflict and not a repeated put.
	created := l.Entries()
	if err := b.CreateSource(sink.Source{Key: sourceKey, Type: "http", Name: "events", Secret: sourceSecret}); !errors.Is(err, sink.ErrConflict) {
		t.Fatalf("create of an applied source: %v, want ErrConflict", err)
	}
	if err := b.CreateSink(def); !errors.Is(err, sink.ErrConflict) {
		t.Fatalf("create of an applied sink: %v, want ErrConflict", err)
	}
	if !maps.EqualFunc(created, l.Entries(), func(x, y sink.SharedEntry) bool { return x.Version == y.Version }) {
		t.Fatal("a refused create changed the log")
	}
	for k, entry := range l.Entries() {
		if bytes.Contains(entry.Value, []byte(sourceSecret)) {
			t.Errorf("%s holds the source secret in clear text", k)
		}
		if !strings.HasPrefix(k, "sources/1/1/events") {
			t.Errorf("key %q", k)
		}
	}

	// b changes the source's settings: a applies them.
	src, _ := b.Source(sourceKey)
	src.Settings = sink.Patch{"storage.level.staging.upload.trigger.count": 7}
	if err := b.PutSource(src); err != nil {
		t.Fatal(err)
	}
	e.eventually("a applies the settings", 0, func() bool {
		views, err := a.SinkSettings(sinkKey(0))
		if err != nil {
			return false
		}
		for _, v := range views {
			if v.Key == "storage.level.staging.upload.trigger.count" {
				return fmt.Sprint(v.Value) == "7"
			}
		}
		return false
	})

	// A replica started now loads everything from the log. It does not follow the log, so it
	// misses a's next change: its write over it conflicts and changes nothing.
	stale := e.replica(l, key, false)
	if got, ok := stale.Source(sourceKey); !ok || got.Settings["storage.level.staging.upload.trigger.count"] == nil {
		t.Fatalf("a new replica loaded %+v, %t", got, ok)
	}
	if err := a.DeleteSink(sinkKey(0), sink.System); err != nil {
		t.Fatal(err)
	}
	before := l.Entries()
	err := stale.PutSource(sink.Source{Key: sourceKey, Type: "http", Name: "renamed", Secret: sourceSecret})
	if !errors.Is(err, sink.ErrConflict) {
		t.Fatalf("stale write: %v, want ErrConflict", err)
	}
	if !maps.EqualFunc(before, l.Entries(), func(x, y sink.SharedEntry) bool { return x.Version == y.Version }) {
		t.Fatal("a conflicting write changed the log")
	}
	e.eventually("b applies the deleted sink", 0, func() bool { sinks, _ := b.Sinks(sourceKey); return len(sinks) == 0 })

	// a deletes the source: b's writes find none.
	if err := a.DeleteSource(sourceKey, sink.System); err != nil {
		t.Fatal(err)
	}
	e.eventually("b applies the deletion", 0, func() bool { _, ok := b.Source(sourceKey); return !ok })
	if err := b.PutSink(def); !errors.Is(err, sink.ErrSourceNotFound) {
		t.Fatalf("put sink of a deleted source: %v", err)
	}
	if _, err := b.Sinks(sourceKey); !errors.Is(err, sink.ErrSourceNotFound) {
		t.Fatalf("sinks of a deleted source: %v", err)
	}
}
