package cluster

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the shared-definitions log's metrics; labels are fixed sets.
type Metrics struct {
	// Records counts the config topic's records applied, by outcome: accepted or refused.
	Records *prometheus.CounterVec
	// Writes counts this member's writes, by result: ok, conflict or error.
	Writes *prometheus.CounterVec
	// Fenced counts writes tried again because a concurrent writer fenced them.
	Fenced prometheus.Counter
	// Keys is the number of keys in the state.
	Keys prometheus.Gauge
}

// NewMetrics registers the metrics on reg; a nil reg keeps them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_cluster_records_total",
			Help: "Records of the shared-definitions topic applied, by outcome (accepted, refused)."}, []string{"outcome"}),
		Writes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kbridge_cluster_writes_total",
			Help: "Writes of shared definitions by this member, by result (ok, conflict, error)."}, []string{"result"}),
		Fenced: prometheus.NewCounter(prometheus.CounterOpts{Name: "kbridge_cluster_write_fenced_total",
			Help: "Writes of shared definitions tried again because a concurrent writer fenced them."}),
		Keys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kbridge_cluster_keys",
			Help: "Keys in this member's copy of the shared definitions."}),
	}
	for _, o := range []string{"accepted", "refused"} {
		m.Records.WithLabelValues(o)
	}
	for _, r := range []string{"ok", "conflict", "error"} {
		m.Writes.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Records, m.Writes, m.Fenced, m.Keys)
	}
	return m
}
