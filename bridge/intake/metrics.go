package intake

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the intake; the status label is bounded by the codes the intake answers.
type metrics struct {
	requests *prometheus.CounterVec
	duration prometheus.Histogram
	bytes    prometheus.Counter
	records  prometheus.Counter
	byStatus map[int]prometheus.Counter // pre-created, read-only after newMetrics
}

var knownStatuses = []int{200, 202, 400, 404, 405, 408, 409, 413, 415, 422, 431, 500, 503}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kbridge_intake_requests_total", Help: "HTTP intake requests by status code."}, []string{"status"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kbridge_intake_request_duration_seconds", Help: "Duration of intake requests, including the wait for the fsync.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kbridge_intake_received_bytes_total", Help: "Request body bytes received (as sent, before gzip decoding)."}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kbridge_intake_records_total", Help: "Records accepted by the intake (written to every enabled sink)."}),
		byStatus: map[int]prometheus.Counter{},
	}
	for _, code := range knownStatuses {
		m.byStatus[code] = m.requests.WithLabelValues(strconv.Itoa(code))
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytes, m.records} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("intake metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(status int, start time.Time) {
	c, ok := m.byStatus[status]
	if !ok {
		c = m.requests.WithLabelValues(strconv.Itoa(status))
	}
	c.Inc()
	m.duration.Observe(time.Since(start).Seconds())
}
