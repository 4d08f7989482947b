package sink_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbridge/kbridge/sink"
)

// The oldest un-imported record's age is positive while rows wait and 0 once they are imported.
func TestOldestUnimportedRecordAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m := e.manager(sink.Deps{Registerer: reg})
	define(t, m, keyed(columns), syncEachBatch, "in.c-t.oldest")
	age := func() float64 {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() == "kbridge_sink_oldest_unimported_record_age_seconds" {
				for _, metric := range f.GetMetric() {
					return metric.GetGauge().GetValue()
				}
			}
		}
		t.Fatal("the age metric is not registered")
		return 0
	}
	if got := age(); got != 0 {
		t.Fatalf("age with nothing written: %v", got)
	}
	ws := writeBatches(t, m, 0, 10, 10)
	e.clk.Advance(7 * time.Second)
	if got := age(); got != 7 {
		t.Fatalf("age 7 s after the write: %v", got)
	}
	e.eventually("rows imported", 2*time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
	if got := age(); got != 0 {
		t.Fatalf("age after the import: %v", got)
	}
}
