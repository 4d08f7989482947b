package sink_test

import (
	"errors"
	"testing"

	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi/durable"
)

// A replica that has not started to run loses the race to put a configured source to one that
// put it first: its put conflicts until it applies the queued changes (ApplySharedChanges),
// after which the same put is no change and writes nothing.
func TestApplySharedChangesBeforeRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l, key := newMemLog(), durable.GenerateKey("k1")
	a := e.replica(l, key, true)

	shared := sink.NewSharedDefinitions(l)
	l.mu.Lock()
	l.subs = append(l.subs, shared)
	l.mu.Unlock()
	cfg := testConfig(t.TempDir())
	cfg.Encryption.Keys = key.String()
	b, err := sink.New(cfg, sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk, Shared: shared})
	if err != nil {
		t.Fatal(err)
	}

	src := sink.Source{Key: sourceKey, Type: "http", Name: "events", Secret: sourceSecret}
	if err := a.PutSource(src); err != nil {
		t.Fatal(err)
	}
	for range 2 { // b has not applied a's record: a retry alone conflicts again
		if err := b.PutSource(src); !errors.Is(err, sink.ErrConflict) {
			t.Fatalf("put before applying the winner's record: %v, want ErrConflict", err)
		}
	}
	b.ApplySharedChanges()
	if err := b.PutSource(src); err != nil {
		t.Fatalf("put after applying the winner's record: %v", err)
	}
	if v := l.Entries()[sharedKeyOf(sourceKey)].Version; v != 1 {
		t.Errorf("the source is at version %d after the same put, want 1", v)
	}
	run(t, b)
}

func sharedKeyOf(k sink.SourceKey) string { return "sources/1/1/" + k.SourceID }
