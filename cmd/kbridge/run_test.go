package main_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const runConfig = `
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
intake: {listen: ""}
api: {listen: ""}
connect: {listen: ""}
log: {format: text, level: info}
sources:
  - id: events
    type: kafka
    settings:
      storage.level.local.encoding.sync.intervalTrigger: 10ms
      storage.level.staging.upload.trigger.count: 1
      storage.level.target.import.trigger.count: 1
    sinks:
      - id: table
        tableId: in.c-demo.events
        columns:
          - {type: kafka.partition, name: partition, primaryKey: true}
          - {type: kafka.offset, name: offset, primaryKey: true}
          - {type: path, name: id, path: id}
pipelines:
  - name: orders
    kbridge.source: events
    topics: orders
    batch.max.size: "100"
`

// kbridge run: records produced to Kafka land in the table; /metrics and /readyz answer;
// SIGTERM shuts down cleanly with every offset committed.
func TestRunDaemon(t *testing.T) {
	t.Parallel()
	bin, dir, storageURL, cluster := startRunStack(t, 2, "orders")
	metricsAddr := freeAddr(t)
	config := filepath.Join(dir, "kbridge.yaml")
	body := fmt.Sprintf(runConfig, filepath.Join(dir, "data"), storageURL, cluster.ListenAddrs()[0], metricsAddr)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token", "KBRIDGE_MEMORY_LIMIT=1Gi")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("kbridge logs:\n%s", logs.String())
		}
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 500
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "every record in the table", func() bool { return len(tableRows(t, storageURL, "script-token", "in.c-demo.events")) == n })
	if status, _ := get(t, "http://"+metricsAddr+"/readyz"); status != http.StatusOK {
		t.Fatalf("/readyz: %d", status)
	}
	if status, _ := get(t, "http://"+metricsAddr+"/debug/pprof/heap"); status != http.StatusNotFound {
		t.Errorf("/debug/pprof/heap without metrics.pprof: %d, want 404", status)
	}
	_, metrics := get(t, "http://"+metricsAddr+"/metrics")
	for _, series := range []string{"kbridge_kafka_records_total 500", "kbridge_kafka_offset_marks_total", "kbridge_sink_"} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics has no %q", series)
		}
	}

	waitUntil(t, 30*time.Second, "offsets committed", func() bool { return committedTotal(t, cl, "connect-orders") == n })

	// Without a broker the process is not ready.
	cluster.Close()
	waitUntil(t, 30*time.Second, "/readyz to fail without Kafka", func() bool {
		status, body := get(t, "http://"+metricsAddr+"/readyz")
		return status == http.StatusServiceUnavailable && strings.Contains(body, "Kafka unreachable")
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("kbridge exited with %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("kbridge did not stop within 45s of SIGTERM")
	}
	for _, line := range []string{`msg="soft memory limit" bytes=966367641 from=KBRIDGE_MEMORY_LIMIT`, "shutting down", "stopped"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("logs have no %q", line)
		}
	}
}

func freeAddr(t *testing.T) string { return freeAddrs(t, 1)[0] }

// nextPort walks the ports below Linux's ephemeral range (32768–60999), from a random start:
// a port found free there stays free until the daemon under test takes it, where one of the
// ephemeral range may meanwhile become the local end of any outgoing connection.
var nextPort = sync.OnceValue(func() *atomic.Int32 {
	var p atomic.Int32
	p.Store(20000 + rand.Int32N(10000))
	return &p
})

// freeAddrs returns n distinct addresses on 127.0.0.1 nothing listens on.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			t.Fatal("no free port below 32768")
		}
		port := 20000 + (nextPort().Add(1)-20000)%12768
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out
}

func get(t *testing.T, u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// tableRows reads a table through the emulator's data-preview, header excluded.
func tableRows(t *testing.T, storageURL, token, table string) [][]string {
	req, _ := http.NewRequest(http.MethodGet, storageURL+"/v2/storage/tables/"+table+"/data-preview?limit=1000", nil)
	req.Header.Set("X-StorageApi-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	records, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(records) == 0 {
		return nil
	}
	return records[1:]
}

func committedTotal(t *testing.T, cl *kgo.Client, group string) int64 {
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		return 0
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	return total
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
}
