package sink

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbridge/kbridge/sink/local"
)

// oldestDesc is the age of the oldest record a sink holds that is not yet in its table: the
// figure that tells whether data is stuck (Keboola drops unimported data after 7 days;
// kbridge never does, so this is what an operator watches).
var oldestDesc = prometheus.NewDesc("kbridge_sink_oldest_unimported_record_age_seconds",
	"Time since the oldest record of a sink still on local disk or in staging (not yet imported) was written; 0 when none.",
	[]string{"source", "sink"}, nil)

// oldestCollector computes the ages when Prometheus scrapes, from the sinks' file records.
type oldestCollector struct{ m *Manager }

func (c oldestCollector) Describe(ch chan<- *prometheus.Desc) { ch <- oldestDesc }

func (c oldestCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.RLock()
	pipes := c.m.allPipelines()
	c.m.mu.RUnlock()
	now := c.m.clk.Now()
	for _, p := range pipes {
		age := 0.0
		if first := p.oldestUnimported(); !first.IsZero() {
			age = max(now.Sub(first).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, p.key.SourceID, p.key.SinkID)
	}
}

// oldestUnimported returns when the oldest record not yet imported was written, or zero.
func (p *pipeline) oldestUnimported() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var oldest time.Time
	for _, f := range p.files {
		if f.rec.State == FileImported {
			continue
		}
		var acc [4]local.Stats
		f.addLevels(&acc)
		for _, l := range []Level{LevelLocal, LevelStaging} {
			if t := acc[l.rank()].FirstRecordAt; !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
				oldest = t
			}
		}
	}
	return oldest
}
