package main_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kbridge run with a memory limit its heap is already above: the sinks refuse every write, so
// the intake answers 503 with Retry-After, the Kafka pipeline pauses its partitions (and
// commits nothing), and kbridge_sink_write_errors_total{reason="memory"} counts the refusals.
// The process keeps running instead of growing.
func TestRunRefusesWritesNearTheMemoryLimit(t *testing.T) {
	t.Parallel()
	bin, dir, storageURL, cluster := startRunStack(t, 2, "orders")
	metricsAddr, intakeAddr := freeAddr(t), freeAddr(t)
	config := filepath.Join(dir, "kbridge.yaml")
	body := fmt.Sprintf(metricsConfig, filepath.Join(dir, "data"), storageURL, cluster.ListenAddrs()[0], metricsAddr, intakeAddr, webSecret)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", config)
	// 1 MiB: below the live heap of a started daemon.
	cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token", "KBRIDGE_MEMORY_LIMIT=1Mi")
	var logs lockedBuffer
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
			t.Logf("kbridge logs:\n%s", logs.tail(16<<10))
		}
	})
	waitUntil(t, 30*time.Second, "/readyz", func() bool { status, _ := get(t, "http://"+metricsAddr+"/readyz"); return status == http.StatusOK })

	intake := fmt.Sprintf("http://%s/stream/1/web/%s", intakeAddr, webSecret)
	status, answer := curl(t, http.MethodPost, intake, "application/json", `{"id":1}`)
	if status != http.StatusServiceUnavailable || !bytes.Contains(answer, []byte("stream.in.pipelineNotReady")) {
		t.Fatalf("POST near the memory limit: %d %s, want 503 stream.in.pipelineNotReady", status, answer)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: []byte(`{"id":1}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the partitions paused", func() bool {
		return strings.Contains(logs.tail(1<<20), "partitions paused") && strings.Contains(logs.tail(1<<20), "the heap is near the memory limit")
	})
	series := scrape(t, metricsAddr)
	if n := sum(series, "kbridge_sink_write_errors_total", `reason="memory"`); n < 2 {
		t.Errorf(`kbridge_sink_write_errors_total{reason="memory"} = %v, want the intake's and the pipeline's refusals`, n)
	}
	if n := committedTotal(t, cl, "connect-orders"); n != 0 {
		t.Errorf("%d offsets committed while every write was refused", n)
	}
	if rows := tableRows(t, storageURL, "script-token", "in.c-demo.orders"); len(rows) != 0 {
		t.Errorf("rows in the table while every write was refused: %v", rows)
	}
	select {
	case err := <-exited:
		t.Fatalf("kbridge exited: %v", err)
	default:
	}
	if !strings.Contains(logs.tail(1<<20), `msg="soft memory limit" bytes=943718 from=KBRIDGE_MEMORY_LIMIT`) {
		t.Error("no log of the soft memory limit")
	}
}
