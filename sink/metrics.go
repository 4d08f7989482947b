package sink

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sink pipeline's Prometheus metrics; labels are bounded by the number of
// sinks (source, sink) and the three levels.
type metrics struct {
	records      *prometheus.CounterVec   // source, sink, level
	compressed   *prometheus.CounterVec   // source, sink, level
	uncompressed *prometheus.CounterVec   // source, sink, level
	fsync        *prometheus.HistogramVec // source, sink
	failures     *prometheus.CounterVec   // source, sink, level (staging: upload, target: import)
	importJobs   *prometheus.CounterVec   // source, sink, status
	importTime   *prometheus.HistogramVec // source, sink
	diskBytes    *prometheus.GaugeVec     // source, sink
	writeErrors  *prometheus.CounterVec   // source, sink, reason
	heldAgain    *prometheus.CounterVec   // source, sink
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"source", "sink"}
	levels := []string{"source", "sink", "level"}
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_sink_records_total",
			Help: "Records that reached a level."}, levels),
		compressed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_sink_compressed_bytes_total",
			Help: "Compressed bytes that reached a level."}, levels),
		uncompressed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_sink_uncompressed_bytes_total",
			Help: "Uncompressed CSV bytes that reached a level."}, levels),
		fsync: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kbridge_sink_sync_duration_seconds",
			Help: "Duration of one group commit (write, fsync of data and sync log).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, labels),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_sink_failures_total",
			Help: "Failed uploads (level staging) and imports (level target); each is retried with backoff."}, levels),
		importJobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_sink_import_jobs_total",
			Help: "Finished import jobs by status (success, error)."}, []string{"source", "sink", "status"}),
		importTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kbridge_sink_import_duration_seconds",
			Help: "Duration of an import from job start to success.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, labels),
		diskBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kbridge_sink_disk_bytes",
			Help: "Bytes of slice files on local disk not yet imported."}, labels),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_sink_write_errors_total",
			Help: "Refused or failed writes by reason (disk_full, not_ready, memory, io)."}, []string{"source", "sink", "reason"}),
		heldAgain: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_sink_records_held_again_total",
			Help: "Kafka records written again (a retried or re-read batch) that the sink already held; not appended twice."}, labels),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.records, m.compressed, m.uncompressed, m.fsync, m.failures,
		m.importJobs, m.importTime, m.diskBytes, m.writeErrors, m.heldAgain} {
		if err := reg.Register(c); err != nil {
			return nil, errors.Join(errors.New("register sink metrics"), err)
		}
	}
	return m, nil
}

// sinkMetrics are the children of one sink, resolved once so the write path does no lookups.
type sinkMetrics struct {
	localRecords, localCompressed, localUncompressed prometheus.Counter
	fsync                                            prometheus.Observer
	disk                                             prometheus.Gauge
	heldAgain                                        prometheus.Counter
	m                                                *metrics
	source, sink                                     string
}

func (m *metrics) forSink(k SinkKey) *sinkMetrics {
	src, snk := k.SourceKey.String(), k.SinkID
	return &sinkMetrics{
		localRecords:      m.records.WithLabelValues(src, snk, string(LevelLocal)),
		localCompressed:   m.compressed.WithLabelValues(src, snk, string(LevelLocal)),
		localUncompressed: m.uncompressed.WithLabelValues(src, snk, string(LevelLocal)),
		fsync:             m.fsync.WithLabelValues(src, snk),
		disk:              m.diskBytes.WithLabelValues(src, snk),
		heldAgain:         m.heldAgain.WithLabelValues(src, snk),
		m:                 m, source: src, sink: snk,
	}
}

func (s *sinkMetrics) level(l Level, records, compressed, uncompressed int64) {
	s.m.records.WithLabelValues(s.source, s.sink, string(l)).Add(float64(records))
	s.m.compressed.WithLabelValues(s.source, s.sink, string(l)).Add(float64(compressed))
	s.m.uncompressed.WithLabelValues(s.source, s.sink, string(l)).Add(float64(uncompressed))
}

func (s *sinkMetrics) failure(l Level) {
	s.m.failures.WithLabelValues(s.source, s.sink, string(l)).Inc()
}

func (s *sinkMetrics) job(status string) {
	s.m.importJobs.WithLabelValues(s.source, s.sink, status).Inc()
}

func (s *sinkMetrics) writeError(reason string) {
	s.m.writeErrors.WithLabelValues(s.source, s.sink, reason).Inc()
}
