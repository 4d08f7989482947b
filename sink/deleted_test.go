package sink_test

import (
	"testing"

	"github.com/kbridge/kbridge/sink"
)

// TestDeletionSurvivesRestart: a deleted source and its sinks stay deleted in the next process,
// whose undelete brings both back and whose create revives a deleted id.
func TestDeletionSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := newManager(t, e, func(*sink.Config) {})
	define(t, m, columns, nil, "in.c-d.events")
	if err := m.DeleteSource(sourceKey, sink.Actor{Type: "user", TokenID: "7"}); err != nil {
		t.Fatal(err)
	}
	closeManager(t, m)

	again := newManager(t, e, func(*sink.Config) {})
	defer closeManager(t, again)
	if _, ok := again.Source(sourceKey); ok {
		t.Fatal("a deleted source is found after a restart")
	}
	deleted := again.DeletedSources()
	if len(deleted) != 1 || deleted[0].DeletedAt == nil || deleted[0].DeletedAt.By.TokenID != "7" {
		t.Fatalf("deleted sources: %+v", deleted)
	}
	if err := again.UndeleteSource(sourceKey, sink.System); err != nil {
		t.Fatal(err)
	}
	sinks, err := again.Sinks(sourceKey)
	if err != nil || len(sinks) != 1 || sinks[0].Version != 2 {
		t.Fatalf("sinks after undelete: %+v %v", sinks, err)
	}
	versions, err := again.SourceVersions(sourceKey)
	if err != nil || len(versions) != 2 || versions[1].Change.Description != `Undeleted to version "1".` {
		t.Fatalf("versions: %+v %v", versions, err)
	}
}
