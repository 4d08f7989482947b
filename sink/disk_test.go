package sink_test

import (
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbridge/kbridge/sink"
)

// diskBytes reads kbridge_sink_disk_bytes of the one sink registered on reg.
func diskBytes(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "kbridge_sink_disk_bytes" {
			for _, metric := range f.GetMetric() {
				return metric.GetGauge().GetValue()
			}
		}
	}
	t.Fatal("kbridge_sink_disk_bytes is not registered")
	return 0
}

// After a restart, kbridge_sink_disk_bytes counts the slices that wait on disk: it is set when
// the sink's state is loaded, not only by the next write or import.
func TestDiskBytesAfterRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	stop := runUntil(t, m)
	define(t, m, keyed(columns), patch(syncEachBatch, "staging.upload.trigger.interval", "30m",
		"staging.upload.trigger.count", 10_000_000, "target.import.trigger.interval", "24h"), "in.c-t.disk")
	writeBatches(t, m, 0, 200, 50)
	before := diskBytes(t, reg)
	stop()
	if before <= 0 {
		t.Fatalf("kbridge_sink_disk_bytes %v with 200 rows on disk", before)
	}

	reg = prometheus.NewRegistry()
	m, err = sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctxT(t, 5*time.Second))
	var onDisk int64
	err = filepath.WalkDir(filepath.Join(e.dir, "sinks"), func(path string, d fs.DirEntry, err error) error {
		if ext := filepath.Ext(path); err == nil && !d.IsDir() && ext != ".json" && ext != ".sync" { // the slices' rows
			info, err := d.Info()
			if err != nil {
				return err
			}
			onDisk += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := diskBytes(t, reg); got < before || got != float64(onDisk) {
		t.Fatalf("kbridge_sink_disk_bytes %v after the restart, %v before it, slice files hold %d bytes", got, before, onDisk)
	}
}
