package kafka

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Kafka bridge's metrics. One value is shared by every consumer of a process;
// labels are bounded by the pipelines and the partitions of their topics.
type Metrics struct {
	Records      prometheus.Counter // records polled
	DeadLettered prometheus.Counter // records rejected (sent to the dead-letter topic, if any)
	Filtered     prometheus.Counter // records dropped by a transform (Filter); their offsets complete
	WriteRetries prometheus.Counter // writes retried because the sinks applied back pressure
	// RegistryRetries counts conversions retried because the Schema Registry did not answer.
	RegistryRetries prometheus.Counter
	Marks           prometheus.Counter // offsets marked for commit

	// Lag is, per pipeline, topic and partition, the records between the group's committed
	// offset and the partition's end, measured every DefaultLagInterval while the pipeline runs
	// and, for the partitions a task owns, updated from each fetch's high watermark and at
	// each commit.
	Lag *prometheus.GaugeVec
	// Failures counts, per pipeline, the times a pipeline stopped with an error; the daemon
	// restarts it after each with backoff.
	Failures *prometheus.CounterVec
	// TaskRestarts counts, per pipeline, the times a task started again to re-read a batch
	// that did not become durable (a failed write or fsync).
	TaskRestarts *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg; a nil reg keeps them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Records: prometheus.NewCounter(prometheus.CounterOpts{Name: "kbridge_kafka_records_total",
			Help: "Records polled from Kafka."}),
		DeadLettered: prometheus.NewCounter(prometheus.CounterOpts{Name: "kbridge_kafka_dead_letter_records_total",
			Help: "Records rejected by the mapping or as null values, sent to the dead-letter topic when one is set."}),
		Filtered: prometheus.NewCounter(prometheus.CounterOpts{Name: "kbridge_kafka_filtered_records_total",
			Help: "Records dropped by a Filter transform; their offsets are committed as any other's."}),
		WriteRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "kbridge_kafka_write_retries_total",
			Help: "Writes retried because the sinks applied back pressure."}),
		RegistryRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "kbridge_kafka_schema_registry_retries_total",
			Help: "Record conversions retried because the Schema Registry did not answer (the partitions are paused meanwhile)."}),
		Marks: prometheus.NewCounter(prometheus.CounterOpts{Name: "kbridge_kafka_offset_marks_total",
			Help: "Offsets marked for commit after their records reached the commit level."}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kbridge_kafka_consumer_lag",
			Help: "Records between the consumer group's committed offset and the partition's end."},
			[]string{"pipeline", "topic", "partition"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_kafka_pipeline_failures_total",
			Help: "Times a pipeline stopped with an error; it is restarted with backoff after each."},
			[]string{"pipeline"}),
		TaskRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_kafka_task_restarts_total",
			Help: "Times a task started again to re-read a batch whose rows did not become durable (failed write or fsync)."},
			[]string{"pipeline"}),
	}
	if reg != nil {
		reg.MustRegister(m.Records, m.DeadLettered, m.Filtered, m.WriteRetries, m.RegistryRetries, m.Marks, m.Lag, m.Failures, m.TaskRestarts)
	}
	return m
}
