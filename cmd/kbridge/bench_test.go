package main_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/tidwall/gjson"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/storageapi/emulator"
)

// The load harnesses of docs/performance.md. They run only when asked (make bench-kafka,
// make bench-e2e) and print their figures; nothing in them is an assertion about speed.
//
//   - TestBenchKafkaToLocal (KBRIDGE_BENCH_KAFKA=1): BENCH_RECORDS (1M) records of 1 KB JSON
//     in 6 partitions of a kfake broker, consumed BENCH_ROUNDS (5) times by each of two
//     processes, alternated: a plain one-goroutine franz-go + gjson + encoding/csv consumer
//     writing gzip to a file (no fsync), and `kbridge run` writing the same 4 columns (id,
//     user.name, time, body) to its local level (gzip, fsync by the default sync triggers,
//     kbridge.commit.level=local). Each run is a new consumer group; the clock runs from the
//     process start until every record is written (kbridge: fsynced, seen on /metrics).
//   - TestBenchEndToEnd (KBRIDGE_BENCH_E2E=1): BENCH_RECORDS records through `kbridge run` into
//     the emulator's table (uploads every 1 s, imports every 50,000 records or 30 s, the
//     shortest import interval Keboola accepts), BENCH_E2E_ROUNDS (1) times:
//     the time until the table holds every record and the group's lag is 0, then every row
//     is checked to be there exactly once.
//
// BENCH_BASE_BIN names a second kbridge binary (say, built from the main branch) run as a
// third variant, "kbridge-base", alternated with the others: before/after in the same run.
// BENCH_PROFILE names a file for a CPU profile of the first kbridge run (5 s, from 5 s in).

// plainChildEnv makes the test binary the plain consumer: brokers, topic, group, record count
// and output file, separated by spaces. It exits once it wrote that many records.
const plainChildEnv = "KBRIDGE_BENCH_PLAIN"

// plainConsumer is the baseline: one goroutine polls, extracts the columns with gjson and
// writes CSV through gzip (klauspost, level 1, as kbridge's default) into a file, no fsync.
func plainConsumer() int {
	f := strings.Fields(os.Getenv(plainChildEnv))
	n, _ := strconv.Atoi(f[3])
	cl, err := kgo.NewClient(kgo.SeedBrokers(f[0]), kgo.ConsumeTopics(f[1]), kgo.ConsumerGroup(f[2]),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cl.Close()
	out, err := os.Create(f[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer out.Close()
	bw := bufio.NewWriterSize(out, 1<<20)
	zw, _ := kgzip.NewWriterLevel(bw, 1)
	w := csv.NewWriter(zw)
	row := make([]string, 4)
	for done := 0; done < n; {
		fs := cl.PollFetches(context.Background())
		if err := fs.Err0(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		fs.EachRecord(func(r *kgo.Record) {
			row[0] = gjson.GetBytes(r.Value, "id").Raw
			row[1] = gjson.GetBytes(r.Value, "user.name").String()
			row[2] = now
			row[3] = string(r.Value)
			_ = w.Write(row)
			done++
		})
	}
	w.Flush()
	if err := errors.Join(w.Error(), zw.Close(), bw.Flush()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(procPeakRSS(os.Getpid()))
	return 0
}

// procPeakRSS is a process's peak resident set (VmHWM), in bytes; 0 when unknown. The rusage of a
// child is no use here: Go starts children with vfork, and Linux carries the parent's peak
// (the kfake broker holding every record) into the child's ru_maxrss.
func procPeakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// benchRecord is record i: about 1 KB of JSON.
func benchRecord(i int) []byte {
	return fmt.Appendf(nil, `{"id":%d,"type":"order.created","time":"2026-01-02T03:04:05.%03dZ","user":{"id":"u-%d","name":"User %d","address":{"city":"Prague","zip":"11000"}},`+
		`"items":[{"sku":"A-%d","qty":1,"price":9.99},{"sku":"B-2","qty":2,"price":19.5}],"padding":"%s","total":%d.99}`,
		i, i%1000, i%5000, i%5000, i%97, strings.Repeat("x", 760), i%300)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// produceBench fills topic (6 partitions) of a new kfake cluster with n records.
func produceBench(t *testing.T, n int) *kfake.Cluster {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	for i := range n {
		cl.Produce(context.Background(), &kgo.Record{Topic: "orders", Value: benchRecord(i)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("produced %d records in %s", n, time.Since(start).Round(time.Millisecond))
	return cluster
}

// runStats are one process's figures.
type runStats struct {
	took   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64         // bytes
}

func statsOf(cmd *exec.Cmd, took time.Duration, rss int64) runStats {
	return runStats{took: took, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), maxRSS: rss}
}

// benchConfig is `kbridge run` for the harnesses; %[1]s data dir, %[2]s Storage URL, %[3]s
// broker, %[4]s metrics address, %[5]s pipeline (its group is connect-<pipeline>), %[6]s
// settings, %[7]s commit level.
const benchConfig = `
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
intake: {listen: ""}
api: {listen: ""}
connect: {listen: ""}
log: {format: text, level: warn}
sources:
  - id: events
    type: kafka
    settings: {%[6]s}
    sinks:
      - id: table
        tableId: in.c-bench.events
        columns:
          - {type: path, name: id, path: id}
          - {type: path, name: user_name, path: user.name, rawString: true}
          - {type: datetime, name: time}
          - {type: body, name: body}
pipelines:
  - name: %[5]s
    kbridge.source: events
    topics: orders
    kbridge.commit.level: %[7]s
`

// benchProcess is a running `kbridge run`; exited is closed when it ended.
type benchProcess struct {
	cmd    *exec.Cmd
	logs   *strings.Builder
	exited chan struct{}
	err    error
}

// startBenchKbridge starts `kbridge run` with benchConfig.
func startBenchKbridge(t *testing.T, bin, dir, storageURL, broker, metrics, pipeline, settings, level string) *benchProcess {
	t.Helper()
	config := filepath.Join(dir, "kbridge.yaml")
	body := fmt.Sprintf(benchConfig, filepath.Join(dir, "data"), storageURL, broker, metrics, pipeline, settings, level)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token")
	p := &benchProcess{cmd: cmd, logs: &strings.Builder{}, exited: make(chan struct{})}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.exited })
	return p
}

func (p *benchProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop ends the process with SIGTERM and waits for it.
func (p *benchProcess) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited
	if p.err != nil {
		t.Fatalf("kbridge: %v\n%s", p.err, p.logs.String())
	}
}

// metricSum is the sum of the samples of a metric on a /metrics page whose labels contain match.
func metricSum(page, name, match string) float64 {
	var sum float64
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") || !strings.Contains(line, match) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func metricsPage(u string) string {
	resp, err := http.Get(u)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func TestBenchKafkaToLocal(t *testing.T) {
	if os.Getenv("KBRIDGE_BENCH_KAFKA") == "" {
		t.Skip("a load harness: set KBRIDGE_BENCH_KAFKA=1 (make bench-kafka)")
	}
	n, rounds := envInt("BENCH_RECORDS", 1_000_000), envInt("BENCH_ROUNDS", 5)
	bin := buildKbridge(t)
	dir := t.TempDir()
	em, storageURL := startEmulatorProcess(t, bin, filepath.Join(dir, "emulator"))
	t.Cleanup(func() { _ = em.Process.Kill(); _ = em.Wait() })
	broker := produceBench(t, n).ListenAddrs()[0]
	idle := `"storage.level.staging.upload.trigger.count": 10000000, "storage.level.staging.upload.trigger.size": "50MB", ` +
		`"storage.level.staging.upload.trigger.interval": "30m", "storage.level.target.import.trigger.interval": "24h"`

	results := map[string][]runStats{}
	bins := map[string]string{"kbridge": bin}
	variants := []string{"plain", "kbridge"}
	if base := os.Getenv("BENCH_BASE_BIN"); base != "" {
		bins["kbridge-base"] = base
		variants = append(variants, "kbridge-base")
	}
	profile := os.Getenv("BENCH_PROFILE")
	for r := range rounds {
		slices.Reverse(variants)
		for _, v := range variants {
			group := fmt.Sprintf("%s-%d", v, r)
			runDir := filepath.Join(dir, group)
			if err := os.MkdirAll(runDir, 0o700); err != nil {
				t.Fatal(err)
			}
			var st runStats
			if v == "plain" {
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(os.Environ(), plainChildEnv+"="+strings.Join([]string{broker, "orders", group, strconv.Itoa(n), filepath.Join(runDir, "out.csv.gz")}, " "))
				var stderr strings.Builder
				cmd.Stderr = &stderr
				start := time.Now()
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("plain consumer: %v\n%s", err, stderr.String())
				}
				rss, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
				st = statsOf(cmd, time.Since(start), rss)
			} else {
				metrics := freeAddr(t)
				start := time.Now()
				p := startBenchKbridge(t, bins[v], runDir, storageURL, broker, metrics, group, idle, "local")
				if profile != "" && v == "kbridge" {
					go saveProfile(t, "http://"+metrics+"/debug/pprof/profile?seconds=5", profile)
					profile = ""
				}
				for metricSum(metricsPage("http://"+metrics+"/metrics"), "kbridge_sink_records_total", `level="local"`) < float64(n) {
					if !p.running() || time.Since(start) > 10*time.Minute {
						t.Fatalf("kbridge did not write every record:\n%s", p.logs.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
				took := time.Since(start)
				page := metricsPage("http://" + metrics + "/metrics")
				t.Logf("%s: %.0f write retries, write errors %.0f", v, metricSum(page, "kbridge_kafka_write_retries_total", ""),
					metricSum(page, "kbridge_sink_write_errors_total", ""))
				rss := procPeakRSS(p.cmd.Process.Pid)
				p.stop(t)
				st = statsOf(p.cmd, took, rss)
			}
			results[v] = append(results[v], st)
			t.Logf("round %d %-7s %6.0f records/s  %5.2f CPU µs/record  %4d MiB peak RSS", r, v,
				float64(n)/st.took.Seconds(), float64(st.cpu.Microseconds())/float64(n), st.maxRSS>>20)
		}
	}
	report := func(v string) (rate, cpu, rss float64) {
		var rates, cpus, rsss []float64
		for _, st := range results[v] {
			rates = append(rates, float64(n)/st.took.Seconds())
			cpus = append(cpus, float64(st.cpu.Microseconds())/float64(n))
			rsss = append(rsss, float64(st.maxRSS>>20))
		}
		return median(rates), median(cpus), median(rsss)
	}
	table := fmt.Sprintf("medians of %d rounds, %d records:\n| system | records/s | CPU µs/record | peak RSS |\n|---|---:|---:|---:|\n", rounds, n)
	names := map[string]string{"plain": "plain franz-go + gjson + encoding/csv, one goroutine",
		"kbridge": "kbridge run, gzip, to the local level", "kbridge-base": "kbridge run (BENCH_BASE_BIN), gzip, to the local level"}
	pr, _, _ := report("plain")
	for _, v := range []string{"plain", "kbridge-base", "kbridge"} {
		if len(results[v]) == 0 {
			continue
		}
		rate, cpu, rss := report(v)
		table += fmt.Sprintf("| %s | %.0f (%.2f× plain) | %.2f | %.0f MiB |\n", names[v], rate, rate/pr, cpu, rss)
	}
	t.Log(table)
}

// saveProfile writes the CPU profile at u (blocking for its duration) to path.
func saveProfile(t *testing.T, u, path string) {
	time.Sleep(5 * time.Second)
	resp, err := http.Get(u)
	if err != nil {
		t.Logf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Logf("profile: %v", err)
	}
}

func TestBenchEndToEnd(t *testing.T) {
	if os.Getenv("KBRIDGE_BENCH_E2E") == "" {
		t.Skip("a load harness: set KBRIDGE_BENCH_E2E=1 (make bench-e2e)")
	}
	n, rounds := envInt("BENCH_RECORDS", 1_000_000), envInt("BENCH_E2E_ROUNDS", 1)
	bin := buildKbridge(t)
	dir := t.TempDir()
	emDir := filepath.Join(dir, "emulator")
	em, storageURL := startEmulatorProcess(t, bin, emDir)
	t.Cleanup(func() { _ = em.Process.Kill(); _ = em.Wait() })
	cluster := produceBench(t, n)
	broker := cluster.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Uploads every second; imports at the shortest interval Keboola accepts (30 s) or, sooner,
	// by the default count and size triggers (50,000 records, 50 MB).
	triggers := `"storage.level.staging.upload.trigger.interval": "1s", "storage.level.target.import.trigger.interval": "30s"`
	var rates []float64
	for r := range rounds {
		group := fmt.Sprintf("e2e-%d", r)
		runDir := filepath.Join(dir, group)
		if err := os.MkdirAll(runDir, 0o700); err != nil {
			t.Fatal(err)
		}
		metrics := freeAddr(t)
		start := time.Now()
		p := startBenchKbridge(t, bin, runDir, storageURL, broker, metrics, group, triggers, "target")
		var imported time.Duration
		for committedTotal(t, cl, "connect-"+group) < int64(n) {
			page := metricsPage("http://" + metrics + "/metrics")
			if imported == 0 && metricSum(page, "kbridge_sink_records_total", `level="target"`) >= float64(n) {
				imported = time.Since(start)
			}
			if !p.running() || time.Since(start) > 30*time.Minute {
				t.Fatalf("kbridge did not import every record:\n%s", p.logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(start)
		lag := metricSum(metricsPage("http://"+metrics+"/metrics"), "kbridge_kafka_consumer_lag", `pipeline="`+group+`"`)
		rss := procPeakRSS(p.cmd.Process.Pid)
		p.stop(t)
		st := statsOf(p.cmd, took, rss)
		rows, err := emulator.ReadTableRows(emDir, "in.c-bench.events")
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, n)
		for _, row := range rows {
			if id, err := strconv.Atoi(row[0]); err == nil && id >= 0 && id < n {
				seen[id]++
			}
		}
		missing, dups := 0, 0
		for _, c := range seen {
			missing += max(0, 1-c)
			dups += max(0, c-1)
		}
		// Each round imports the topic again into the same table: round r holds it r+1 times.
		if want := r + 1; len(rows) != want*n || slices.ContainsFunc(seen, func(c int) bool { return c != want }) {
			t.Errorf("round %d: table has %d rows for %d records (%d ids missing, %d repeated), want each id %d times", r, len(rows), n, missing, dups, want)
		}
		rate := float64(n) / took.Seconds()
		rates = append(rates, rate)
		t.Logf("round %d: %d records through kbridge run into the emulator's table in %s (imported %s), %.0f records/s, "+
			"lag %v, %.2f CPU µs/record, peak RSS %d MiB", r, n, took.Round(time.Millisecond), imported.Round(time.Millisecond),
			rate, lag, float64(st.cpu.Microseconds())/float64(n), st.maxRSS>>20)
	}
	t.Logf("median of %d rounds: %.0f records/s end to end", rounds, median(rates))
}
