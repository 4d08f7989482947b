package loglevel_test

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/loglevel"
)

// TestComponentLevels changes the level of one component's logger at run time and checks
// that only that component's records change, and that root changes every logger, as
// Connect's worker sets a log4j namespace.
func TestComponentLevels(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	levels := loglevel.New(slog.LevelInfo, func() time.Time { return at })
	var out bytes.Buffer
	log := slog.New(levels.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: loglevel.Lowest})))
	kafka, sink := log.With("component", "kafka"), log.With("component", "sink")
	kafka.Debug("kafka debug 1")
	names, ok := levels.Set("kafka", "debug")
	if !ok || !slices.Equal(names, []string{"kafka"}) {
		t.Fatalf("Set kafka: %v %v", names, ok)
	}
	kafka.Debug("kafka debug 2")
	sink.Debug("sink debug")
	log.Debug("root debug")
	got := out.String()
	if strings.Contains(got, "kafka debug 1") || !strings.Contains(got, "kafka debug 2") ||
		strings.Contains(got, "sink debug") || strings.Contains(got, "root debug") {
		t.Fatalf("records:\n%s", got)
	}
	if l, _ := levels.Get("kafka"); l.Level != "DEBUG" || l.LastModified == nil || *l.LastModified != at.UnixMilli() {
		t.Errorf("kafka: %+v", l)
	}
	if l, _ := levels.Get("sink"); l.Level != "INFO" || l.LastModified != nil {
		t.Errorf("sink: %+v", l)
	}
	names, _ = levels.Set("root", "ERROR")
	if !slices.Equal(names, []string{"kafka", "root", "sink"}) {
		t.Errorf("Set root: %v", names)
	}
	out.Reset()
	kafka.Warn("kafka warn")
	sink.Error("sink error")
	if got := out.String(); strings.Contains(got, "kafka warn") || !strings.Contains(got, "sink error") {
		t.Errorf("after root ERROR:\n%s", got)
	}
	if _, ok := levels.Set("kafka", "verbose"); ok {
		t.Error("Set accepted level verbose")
	}
	if names, _ := levels.Set("ka", "WARN"); !slices.Equal(names, []string{"ka", "kafka"}) {
		t.Errorf("Set ka (a prefix, created): %v", names)
	}
}
