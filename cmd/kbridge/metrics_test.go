package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const metricsConfig = `
sink:
  dataDir: %s
  staging: {minInterval: 0s}
  target: {minInterval: 0s}
storage:
  url: %s
kafka:
  brokers: [%s]
metrics:
  listen: %s
  pprof: true
intake: {listen: %s, publicUrl: "http://%[5]s"}
api: {listen: ""}
connect: {listen: ""}
log: {format: text, level: info}
sources:
  - id: orders
    type: kafka
    settings: &fast
      storage.level.local.encoding.sync.intervalTrigger: 10ms
      storage.level.staging.upload.trigger.count: 10
      storage.level.target.import.trigger.count: 10
    sinks:
      - id: orders
        tableId: in.c-demo.orders
        columns:
          - {type: kafka.partition, name: partition, primaryKey: true}
          - {type: kafka.offset, name: offset, primaryKey: true}
          - {type: path, name: id, path: id}
  - id: web
    type: http
    secret: %s
    settings: *fast
    sinks:
      - id: clicks
        tableId: in.c-demo.clicks
        columns:
          - {type: uuid, name: uuid, primaryKey: true}
          - {type: path, name: id, path: id}
pipelines:
  - name: orders
    kbridge.source: orders
    topics: orders
    batch.max.size: "10"
`

const webSecret = "metrics0000000000000000000000000000000000metrics"

// scrape reads /metrics into series ("name{labels}") → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	status, body := get(t, "http://"+addr+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// sum adds the series of metric name whose labels include every one of labels (`k="v"`).
func sum(series map[string]float64, name string, labels ...string) float64 {
	var total float64
	for s, v := range series {
		metric, rest, _ := strings.Cut(s, "{")
		if metric != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(rest, l)
		}
		if ok {
			total += v
		}
	}
	return total
}

// kbridge run with the intake and a Kafka pipeline: events posted and records produced move the
// intake, sink, Kafka and import series of /metrics, and the consumer lag ends at 0.
func TestRunMetrics(t *testing.T) {
	t.Parallel()
	bin, dir, storageURL, cluster := startRunStack(t, 2, "orders")
	// The records are there before kbridge starts: its first lag measurement, at the start of
	// the pipeline, sees them all, so a lag of 0 later comes from a measurement after the commits.
	const posts, records = 10, 40
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range records {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	metricsAddr, intakeAddr := freeAddr(t), freeAddr(t)
	config := filepath.Join(dir, "kbridge.yaml")
	body := fmt.Sprintf(metricsConfig, filepath.Join(dir, "data"), storageURL, cluster.ListenAddrs()[0], metricsAddr, intakeAddr, webSecret)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("kbridge logs:\n%s", logs.String())
		}
	})
	waitUntil(t, 20*time.Second, "/readyz", func() bool { status, _ := get(t, "http://"+metricsAddr+"/readyz"); return status == http.StatusOK })

	// metrics.pprof: true serves the heap profile beside /metrics.
	if status, body := get(t, "http://"+metricsAddr+"/debug/pprof/heap?debug=1"); status != http.StatusOK || !strings.HasPrefix(body, "heap profile:") {
		t.Errorf("/debug/pprof/heap with metrics.pprof: %d %.40q", status, body)
	}
	before := scrape(t, metricsAddr)
	for _, s := range []string{`kbridge_intake_requests_total{status="200"}`, `kbridge_intake_requests_total{status="404"}`,
		`kbridge_intake_records_total`, `kbridge_kafka_pipeline_failures_total{pipeline="orders"}`} {
		if v, ok := before[s]; !ok || v != 0 {
			t.Errorf("before: %s = %v (present %v), want 0", s, v, ok)
		}
	}

	intake := fmt.Sprintf("http://%s/stream/1/web/%s", intakeAddr, webSecret)
	for i := range posts {
		if status, body := curl(t, http.MethodPost, intake, "application/json", fmt.Sprintf(`{"id":%d}`, i)); status != http.StatusOK {
			t.Fatalf("POST: %d %s", status, body)
		}
	}
	if status, _ := curl(t, http.MethodPost, fmt.Sprintf("http://%s/stream/1/web/wrong", intakeAddr), "application/json", `{}`); status != http.StatusNotFound {
		t.Fatalf("POST with a wrong secret: %d", status)
	}
	waitUntil(t, 30*time.Second, "every record in the tables", func() bool {
		return len(tableRows(t, storageURL, "script-token", "in.c-demo.orders")) == records &&
			len(tableRows(t, storageURL, "script-token", "in.c-demo.clicks")) == posts
	})
	waitUntil(t, 20*time.Second, "offsets committed", func() bool { return committedTotal(t, cl, "connect-orders") == records })
	// The lag is measured every 10 s; it reaches 0 once every offset is committed.
	var after map[string]float64
	waitUntil(t, 25*time.Second, "consumer lag 0 on both partitions", func() bool {
		after = scrape(t, metricsAddr)
		lag0, ok0 := after[`kbridge_kafka_consumer_lag{partition="0",pipeline="orders",topic="orders"}`]
		lag1, ok1 := after[`kbridge_kafka_consumer_lag{partition="1",pipeline="orders",topic="orders"}`]
		return ok0 && ok1 && lag0 == 0 && lag1 == 0
	})

	// Deltas over the posts; the Kafka series count from the process start (at 0), since the
	// pipeline may have consumed before the first scrape.
	delta := func(name string, labels ...string) float64 {
		return sum(after, name, labels...) - sum(before, name, labels...)
	}
	total := func(name string, labels ...string) float64 { return sum(after, name, labels...) }
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"intake requests answered 200", delta("kbridge_intake_requests_total", `status="200"`), posts},
		{"intake requests answered 404", delta("kbridge_intake_requests_total", `status="404"`), 1},
		{"intake records", delta("kbridge_intake_records_total"), posts},
		{"web records on local disk", delta("kbridge_sink_records_total", `sink="clicks"`, `level="local"`), posts},
		{"web records in staging", delta("kbridge_sink_records_total", `sink="clicks"`, `level="staging"`), posts},
		{"web records in the table", delta("kbridge_sink_records_total", `sink="clicks"`, `level="target"`), posts},
		{"Kafka records on local disk", total("kbridge_sink_records_total", `sink="orders"`, `level="local"`), records},
		{"Kafka records in staging", total("kbridge_sink_records_total", `sink="orders"`, `level="staging"`), records},
		{"Kafka records in the table", total("kbridge_sink_records_total", `sink="orders"`, `level="target"`), records},
		{"Kafka records polled", total("kbridge_kafka_records_total"), records},
		{"pipeline failures", total("kbridge_kafka_pipeline_failures_total"), 0},
		{"failed import jobs", total("kbridge_sink_import_jobs_total", `status="error"`), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: moved by %v, want %v", c.what, c.got, c.want)
		}
	}
	for _, c := range []struct {
		what string
		got  float64
	}{
		{"offsets marked", total("kbridge_kafka_offset_marks_total")},
		{"successful import jobs of the Kafka sink", total("kbridge_sink_import_jobs_total", `sink="orders"`, `status="success"`)},
		{"successful import jobs of the web sink", delta("kbridge_sink_import_jobs_total", `sink="clicks"`, `status="success"`)},
		{"intake request durations", delta("kbridge_intake_request_duration_seconds_count")},
		{"group commits", total("kbridge_sink_sync_duration_seconds_count")},
		{"imports timed", total("kbridge_sink_import_duration_seconds_count")},
	} {
		if c.got <= 0 {
			t.Errorf("%s: moved by %v, want more", c.what, c.got)
		}
	}
	if v := sum(after, "kbridge_sink_disk_bytes"); v != 0 {
		t.Errorf("kbridge_sink_disk_bytes %v after every record was imported, want 0", v)
	}

	terminate(t, cmd, exited, 30*time.Second)
}
