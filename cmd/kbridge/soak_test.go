package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The soak runs the built kbridge binary under steady load for KBRIDGE_SOAK (a duration) and
// checks that its memory stays small and flat and that every record lands exactly once:
//
//	make soak SOAK=20m
//	KBRIDGE_SOAK=20m KBRIDGE_SOAK_BIN=bin/kbridge go test -run TestSoak -v -timeout 40m ./cmd/kbridge
//
// The load: one Kafka pipeline at KBRIDGE_SOAK_KAFKA_RATE (5000) records/s of 1 KB JSON into
// three sinks (a Jsonnet template column, four path columns, the body and kafka.* columns), and
// KBRIDGE_SOAK_HTTP_RATE (500) requests/s into an HTTP source with one sink, every tenth request
// an NDJSON batch of 20 events, the others single events. Upload trigger 1 s, import trigger
// 30 s, the Storage API emulator (its own process) as Storage, a kfake broker in this process.
// Every 10 s it samples the process's RSS, the Go heap in use, goroutines, open descriptors,
// the consumer lag and the rows of every table. At the end it reads every table and counts the
// lost and duplicate records, and prints the slopes of RSS and heap over the last 15 minutes
// (the last three quarters of a shorter run). It fails when RSS reaches KBRIDGE_SOAK_MAX_RSS_MB
// (250), when the RSS slope of a window of 10 minutes or more is 1 MB a minute or more, or on
// any lost or duplicate record. KBRIDGE_SOAK_CSV names a file for the samples,
// KBRIDGE_SOAK_HEAP one for a heap profile taken when the load stops (go tool pprof reads it).
func TestSoak(t *testing.T) {
	spec := os.Getenv("KBRIDGE_SOAK")
	if spec == "" {
		t.Skip("KBRIDGE_SOAK is not set (a duration, e.g. 20m; see make soak)")
	}
	duration, err := time.ParseDuration(spec)
	if err != nil || duration < time.Minute {
		t.Fatalf("KBRIDGE_SOAK: want a duration of at least 1m, got %q", spec)
	}
	cfg := soakConfig{
		duration:  duration,
		kafkaRate: soakEnvInt(t, "KBRIDGE_SOAK_KAFKA_RATE", 5000),
		httpRate:  soakEnvInt(t, "KBRIDGE_SOAK_HTTP_RATE", 500),
		maxRSS:    float64(soakEnvInt(t, "KBRIDGE_SOAK_MAX_RSS_MB", 250)),
	}
	bin := os.Getenv("KBRIDGE_SOAK_BIN")
	if bin == "" {
		bin = buildKbridge(t)
	} else if bin, err = filepath.Abs(bin); err != nil {
		t.Fatal(err)
	}
	s := startSoak(t, bin, cfg)
	s.run()
	s.check()
}

type soakConfig struct {
	duration            time.Duration
	kafkaRate, httpRate int
	maxRSS              float64
}

// soakTables are the tables of the four sinks; the first three are fed by Kafka.
var soakTables = []string{"in.c-soak.template", "in.c-soak.paths", "in.c-soak.body", "in.c-soak.http"}

const soakSecret = "soak0000000000000000000000000000000000000000soak"

const soakKbridgeConfig = `
sink:
  dataDir: %[1]s
  staging: {minInterval: 0s}
  target: {minInterval: 0s}
storage:
  url: %[2]s
kafka:
  brokers: [%[3]s]
metrics:
  listen: %[4]s
  pprof: true
intake:
  listen: %[5]s
  publicUrl: http://%[5]s
api: {listen: ""}
connect: {listen: ""}
log: {format: text, level: warn}
sources:
  - id: orders
    type: kafka
    settings: &triggers
      storage.level.staging.upload.trigger.interval: 1s
      storage.level.staging.upload.trigger.count: 10000000
      storage.level.staging.upload.trigger.size: 50MB
      storage.level.target.import.trigger.interval: 30s
      storage.level.target.import.trigger.count: 10000000
      storage.level.target.import.trigger.size: 500MB
    sinks:
      - id: template
        tableId: in.c-soak.template
        columns:
          - {type: template, name: user, rawString: true, template: {language: jsonnet, content: 'Body("user.name") + "-" + std.toString(Body("user.age"))'}}
      - id: paths
        tableId: in.c-soak.paths
        columns:
          - {type: path, name: id, path: id}
          - {type: path, name: name, path: user.name, rawString: true}
          - {type: path, name: age, path: user.age}
          - {type: path, name: event, path: event, rawString: true}
      - id: body
        tableId: in.c-soak.body
        columns:
          - {type: body, name: body}
          - {type: kafka.topic, name: topic}
          - {type: kafka.partition, name: partition}
          - {type: kafka.offset, name: offset}
          - {type: kafka.timestamp, name: timestamp}
  - id: web
    type: http
    secret: ` + soakSecret + `
    settings: *triggers
    sinks:
      - id: events
        tableId: in.c-soak.http
        columns:
          - {type: path, name: id, path: id}
          - {type: datetime, name: received}
          - {type: path, name: event, path: event, rawString: true}
pipelines:
  - name: soak
    kbridge.source: orders
    topics: events
`

type soak struct {
	t          *testing.T
	cfg        soakConfig
	cmd        *exec.Cmd
	exited     chan error
	logs       *lockedBuffer
	cluster    *kfake.Cluster
	storageURL string
	tablesDir  string
	metrics    string
	intakeURL  string
	client     *http.Client

	kafkaSent, httpSent atomic.Int64 // ids handed out
	httpRequests        atomic.Int64
	httpRetries         atomic.Int64
	failedMu            sync.Mutex
	kafkaFailed         map[int64]bool // produce failed: not expected in the tables
	httpFailed          map[int64]bool
	samples             []soakSample
}

type soakSample struct {
	at                  time.Duration
	rss, heap           float64 // MB
	goroutines, fds     int64
	lag                 int64
	rows                []int64
	kafkaSent, httpSent int64
}

func startSoak(t *testing.T, bin string, cfg soakConfig) *soak {
	dir := t.TempDir()
	em, storageURL := startEmulatorProcess(t, bin, filepath.Join(dir, "emulator"))
	t.Cleanup(func() { _ = em.Process.Kill(); _ = em.Wait() })
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "events"),
		kfake.BrokerConfigs(map[string]string{"log.retention.ms": "120000"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	s := &soak{t: t, cfg: cfg, cluster: cluster, storageURL: storageURL, tablesDir: filepath.Join(dir, "emulator", "tables"),
		metrics: freeAddr(t), logs: &lockedBuffer{}, exited: make(chan error, 1),
		client:      &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}},
		kafkaFailed: map[int64]bool{}, httpFailed: map[int64]bool{}}
	t.Cleanup(s.client.CloseIdleConnections)
	intake := freeAddr(t)
	s.intakeURL = fmt.Sprintf("http://%s/stream/1/web/%s", intake, soakSecret)
	config := filepath.Join(dir, "kbridge.yaml")
	body := fmt.Sprintf(soakKbridgeConfig, filepath.Join(dir, "data"), storageURL, cluster.ListenAddrs()[0], s.metrics, intake)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "run", "--config", config)
	s.cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token")
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("kbridge logs (last 8 KB):\n%s", s.logs.tail(8<<10))
		}
	})
	waitUntil(t, 30*time.Second, "kbridge ready", func() bool {
		status, _ := get(t, "http://"+s.metrics+"/readyz")
		return status == http.StatusOK
	})
	return s
}

// run sends the load for the configured time while sampling, then waits for every record
// to reach its table.
func (s *soak) run() {
	t := s.t
	t.Logf("soak: %s, %d Kafka records/s into 3 sinks, %d HTTP requests/s into 1 sink, kbridge pid %d",
		s.cfg.duration, s.cfg.kafkaRate, s.cfg.httpRate, s.cmd.Process.Pid)
	t.Logf("%8s %8s %8s %6s %5s %8s %10s %10s %10s %10s", "t", "rss MB", "heap MB", "gorout", "fds", "lag", "template", "paths", "body", "http")
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	producer, err := kgo.NewClient(kgo.SeedBrokers(s.cluster.ListenAddrs()...), kgo.DefaultProduceTopic("events"),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	wg.Go(func() { s.produce(ctx, producer) })
	wg.Go(func() { s.post(ctx) })
	wg.Go(func() { s.retention(ctx) })
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			s.sample(time.Since(start))
		case <-ctx.Done():
			done = true
		case err := <-s.exited:
			t.Fatalf("kbridge exited during the soak: %v\n%s", err, s.logs.tail(8<<10))
		}
	}
	wg.Wait()
	if path := os.Getenv("KBRIDGE_SOAK_HEAP"); path != "" {
		s.heapProfile(path)
	}
	if err := producer.Flush(context.Background()); err != nil {
		t.Fatalf("flush the producer: %v", err)
	}
	t.Logf("load stopped after %s: %d Kafka records, %d HTTP requests (%d events, %d retried)",
		time.Since(start).Round(time.Second), s.kafkaSent.Load(), s.httpRequests.Load(), s.httpSent.Load(), s.httpRetries.Load())
	want := []int64{s.kafkaSent.Load(), s.kafkaSent.Load(), s.kafkaSent.Load(), s.httpSent.Load()}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		last := s.sample(time.Since(start))
		reached := true
		for i, n := range last.rows {
			reached = reached && n >= want[i]
		}
		if reached || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Second)
	}
}

// heapProfile saves kbridge's heap profile (metrics.pprof is on in the soak's config).
func (s *soak) heapProfile(path string) {
	resp, err := s.client.Get("http://" + s.metrics + "/debug/pprof/heap")
	if err != nil {
		s.t.Errorf("heap profile: %v", err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		s.t.Errorf("heap profile: %v", err)
	}
}

// produce sends kafkaRate records a second in ticks of 100 ms.
func (s *soak) produce(ctx context.Context, cl *kgo.Client) {
	per := max(1, s.cfg.kafkaRate/10)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	pads := soakPads()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range per {
			id := s.kafkaSent.Add(1) - 1
			cl.Produce(context.Background(), &kgo.Record{Value: soakBody(id, pads)}, func(_ *kgo.Record, err error) {
				if err != nil {
					s.failedMu.Lock()
					s.kafkaFailed[id] = true
					s.failedMu.Unlock()
				}
			})
		}
	}
}

// post sends httpRate requests a second from 64 workers; a refused request (503, 429, a
// connection error) is sent again until it is taken.
func (s *soak) post(ctx context.Context) {
	tokens := make(chan struct{}, s.cfg.httpRate)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range tokens {
				s.postOne()
			}
		})
	}
	per := max(1, s.cfg.httpRate/10)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			for range per {
				select {
				case tokens <- struct{}{}:
				default: // the workers are behind: the rate is not reached, the rows still checked
				}
			}
		}
	}
	close(tokens)
	wg.Wait()
}

func (s *soak) postOne() {
	pads := soakPads()
	n := s.httpRequests.Add(1)
	events, contentType := int64(1), "application/json"
	if n%10 == 0 {
		events, contentType = 20, "application/x-ndjson"
	}
	first := s.httpSent.Add(events) - events
	var body []byte
	for id := first; id < first+events; id++ {
		body = append(body, soakBody(id, pads)...)
		if events > 1 {
			body = append(body, '\n')
		}
	}
	for attempt := 0; ; attempt++ {
		resp, err := s.client.Post(s.intakeURL, contentType, bytes.NewReader(body))
		status := 0
		if err == nil {
			status = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		switch {
		case status == http.StatusOK || status == http.StatusAccepted:
			return
		case (err != nil || status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && attempt < 100:
			s.httpRetries.Add(1)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		s.t.Errorf("POST %d events from id %d: status %d, %v", events, first, status, err)
		s.failedMu.Lock()
		for id := first; id < first+events; id++ {
			s.httpFailed[id] = true
		}
		s.failedMu.Unlock()
		return
	}
}

// retention drops consumed records from the broker (it keeps two minutes), so the harness
// does not hold the whole run in memory.
func (s *soak) retention(ctx context.Context) {
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.cluster.ApplyRetention()
		}
	}
}

func (s *soak) sample(at time.Duration) soakSample {
	sm := soakSample{at: at, rss: s.rss(), kafkaSent: s.kafkaSent.Load(), httpSent: s.httpSent.Load()}
	if _, body := get(s.t, "http://"+s.metrics+"/metrics"); body != "" {
		sc := bufio.NewScanner(strings.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			name, value := soakMetric(line)
			switch name {
			case "go_memstats_heap_inuse_bytes":
				sm.heap = value / (1 << 20)
			case "go_goroutines":
				sm.goroutines = int64(value)
			case "process_open_fds":
				sm.fds = int64(value)
			case "kbridge_kafka_consumer_lag":
				sm.lag += int64(value)
			}
		}
	}
	for _, table := range soakTables {
		sm.rows = append(sm.rows, s.tableRowsCount(table))
	}
	s.samples = append(s.samples, sm)
	s.t.Logf("%8s %8.1f %8.1f %6d %5d %8d %10d %10d %10d %10d", at.Round(time.Second), sm.rss, sm.heap, sm.goroutines, sm.fds, sm.lag,
		sm.rows[0], sm.rows[1], sm.rows[2], sm.rows[3])
	return sm
}

// soakMetric parses one exposition line: the metric name (labels dropped) and its value.
func soakMetric(line string) (string, float64) {
	if strings.HasPrefix(line, "#") {
		return "", 0
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", 0
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return "", 0
	}
	name := line[:sp]
	if i := strings.IndexByte(name, '{'); i >= 0 {
		name = name[:i]
	}
	return name, v
}

// rss is the kbridge process's resident set in MB, from /proc.
func (s *soak) rss() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func (s *soak) tableRowsCount(table string) int64 {
	req, _ := http.NewRequest(http.MethodGet, s.storageURL+"/v2/storage/tables/"+table, nil)
	req.Header.Set("X-StorageApi-Token", "script-token")
	resp, err := s.client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out struct {
		RowsCount int64 `json:"rowsCount"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return 0
	}
	return out.RowsCount
}

// check stops kbridge, reads every table and reports the memory figures.
func (s *soak) check() {
	t := s.t
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("kbridge exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("kbridge did not stop within 60s of SIGTERM")
	}
	idColumn := func(row []string, col map[string]int) (int64, error) {
		return strconv.ParseInt(row[col["id"]], 10, 64)
	}
	checks := []struct {
		table  string
		sent   int64
		failed map[int64]bool
		id     func(row []string, col map[string]int) (int64, error)
	}{
		{soakTables[0], s.kafkaSent.Load(), s.kafkaFailed, func(row []string, col map[string]int) (int64, error) {
			name, _, _ := strings.Cut(row[col["user"]], "-") // u<id>-<age>
			return strconv.ParseInt(strings.TrimPrefix(name, "u"), 10, 64)
		}},
		{soakTables[1], s.kafkaSent.Load(), s.kafkaFailed, idColumn},
		{soakTables[2], s.kafkaSent.Load(), s.kafkaFailed, func(row []string, col map[string]int) (int64, error) {
			id := gjson.Get(row[col["body"]], "id")
			if !id.Exists() {
				return 0, errors.New("no id in the body")
			}
			return id.Int(), nil
		}},
		{soakTables[3], s.httpSent.Load(), s.httpFailed, idColumn},
	}
	for _, c := range checks {
		lost, dups, bad, err := s.checkTable(c.table, c.sent, c.failed, c.id)
		if err != nil {
			t.Errorf("table %s: %v", c.table, err)
			continue
		}
		t.Logf("table %-20s sent %9d, lost %d, duplicates %d, unreadable %d", c.table, c.sent-int64(len(c.failed)), lost, dups, bad)
		if lost != 0 || dups != 0 || bad != 0 {
			t.Errorf("table %s: %d lost, %d duplicates, %d unreadable rows", c.table, lost, dups, bad)
		}
	}
	s.report()
}

// checkTable reads a table's CSV in the emulator's data directory and counts every id.
func (s *soak) checkTable(table string, sent int64, failed map[int64]bool, id func([]string, map[string]int) (int64, error)) (lost, dups, bad int64, err error) {
	f, err := os.Open(filepath.Join(s.tablesDir, table+".csv"))
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return 0, 0, 0, err
	}
	col := map[string]int{}
	for i, name := range header {
		col[name] = i
	}
	seen := make([]uint8, sent)
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, 0, err
		}
		n, err := id(row, col)
		if err != nil || n < 0 || n >= sent {
			bad++
			continue
		}
		if seen[n] < 255 {
			seen[n]++
		}
	}
	for n, c := range seen {
		switch {
		case c == 0 && !failed[int64(n)]:
			lost++
		case c > 1:
			dups += int64(c) - 1
		}
	}
	return lost, dups, bad, nil
}

// report prints the ranges and slopes and writes the samples when asked to.
func (s *soak) report() {
	t := s.t
	if len(s.samples) < 3 {
		t.Fatalf("only %d samples", len(s.samples))
	}
	window := min(15*time.Minute, s.cfg.duration*3/4)
	from := s.cfg.duration - window
	var xs, rss, heap []float64
	var maxRSS, maxHeap float64
	var minG, maxG, minFD, maxFD, maxLag int64 = 1 << 62, 0, 1 << 62, 0, 0
	for _, sm := range s.samples {
		if sm.at > s.cfg.duration+5*time.Second {
			continue // draining after the load
		}
		maxRSS, maxHeap = max(maxRSS, sm.rss), max(maxHeap, sm.heap)
		minG, maxG, minFD, maxFD, maxLag = min(minG, sm.goroutines), max(maxG, sm.goroutines), min(minFD, sm.fds), max(maxFD, sm.fds), max(maxLag, sm.lag)
		if sm.at >= from {
			xs, rss, heap = append(xs, sm.at.Minutes()), append(rss, sm.rss), append(heap, sm.heap)
		}
	}
	rssSlope, heapSlope := slope(xs, rss), slope(xs, heap)
	t.Logf("RSS max %.1f MB; heap in use max %.1f MB; goroutines %d-%d; descriptors %d-%d; lag max %d records",
		maxRSS, maxHeap, minG, maxG, minFD, maxFD, maxLag)
	t.Logf("over the last %s (%d samples): RSS %.1f-%.1f MB, slope %+.2f MB/min; heap slope %+.2f MB/min",
		window, len(xs), minOf(rss), maxOf(rss), rssSlope, heapSlope)
	if maxRSS >= s.cfg.maxRSS {
		t.Errorf("RSS reached %.1f MB, want under %.0f MB", maxRSS, s.cfg.maxRSS)
	}
	if window >= 10*time.Minute && rssSlope >= 1 {
		t.Errorf("RSS grew %.2f MB a minute over the last %s, want under 1", rssSlope, window)
	}
	if path := os.Getenv("KBRIDGE_SOAK_CSV"); path != "" {
		var b strings.Builder
		b.WriteString("seconds,rss_mb,heap_inuse_mb,goroutines,fds,lag,kafka_sent,http_sent,rows_template,rows_paths,rows_body,rows_http\n")
		for _, sm := range s.samples {
			fmt.Fprintf(&b, "%.0f,%.1f,%.1f,%d,%d,%d,%d,%d,%d,%d,%d,%d\n", sm.at.Seconds(), sm.rss, sm.heap, sm.goroutines, sm.fds, sm.lag,
				sm.kafkaSent, sm.httpSent, sm.rows[0], sm.rows[1], sm.rows[2], sm.rows[3])
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// soakPads are the filler texts that bring a record to about 1 KB.
var soakPads = sync.OnceValue(func() []string {
	rng := rand.New(rand.NewPCG(7, 11))
	const letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	pads := make([]string, 64)
	for i := range pads {
		b := make([]byte, 880)
		for j := range b {
			b[j] = letters[rng.IntN(len(letters))]
		}
		pads[i] = string(b)
	}
	return pads
})

var soakEvents = []string{"click", "view", "buy", "login"}

// soakBody is the 1 KB JSON record with the given id.
func soakBody(id int64, pads []string) []byte {
	return fmt.Appendf(nil, `{"id":%d,"user":{"name":"u%d","age":%d,"country":"CZ"},"event":"%s","amount":%d.%02d,"pad":"%s"}`,
		id, id, id%90+10, soakEvents[id%4], id%1000, id%100, pads[id%64])
}

func soakEnvInt(t *testing.T, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s: want a positive integer, got %q", key, v)
	}
	return n
}

// lockedBuffer collects the process's log for a failure report.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 1<<20 {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-512<<10:]...)
	}
	return len(p), nil
}

func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf[max(0, len(b.buf)-n):])
}
