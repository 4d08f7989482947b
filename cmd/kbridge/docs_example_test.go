package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// The configuration example of docs/configuration.md runs as written: only the addresses, the
// key file, the data directory and the token differ, set by environment variables as the page
// says (the definitions are then sealed with the key file's key); records
// produced to its topic are consumed into its sink.
func TestConfigurationExampleRuns(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/configuration.md has no yaml example")
	}
	bin, dir, storageURL, cluster := startRunStack(t, 3, "orders")
	config := filepath.Join(dir, "kbridge.yaml")
	if err := os.WriteFile(config, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "keys")
	if err := durable.EnsureKeyFile(keyFile, "docs"); err != nil {
		t.Fatal(err)
	}
	metricsAddr := freeAddr(t)
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_URL="+storageURL, "KBRIDGE_STORAGE_TOKEN=script-token",
		"KBRIDGE_SINK_DATADIR="+filepath.Join(dir, "data"), "KBRIDGE_KAFKA_BROKERS="+strings.Join(cluster.ListenAddrs(), ","),
		"KBRIDGE_INTAKE_LISTEN="+freeAddr(t), "KBRIDGE_API_LISTEN="+freeAddr(t), "KBRIDGE_CONNECT_LISTEN="+freeAddr(t),
		"KBRIDGE_METRICS_LISTEN="+metricsAddr, "KBRIDGE_SINK_ENCRYPTION_KEYFILE="+keyFile)
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
	const n = 50
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, `{"order":%d}`, i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the example's sink to take every record of its topic", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("kbridge run exited: %v\n%s", err, logs.String())
		default:
		}
		status, _ := get(t, "http://"+metricsAddr+"/readyz")
		if status != 200 {
			return false
		}
		m := scrape(t, metricsAddr)
		return sum(m, "kbridge_kafka_records_total") == n && sum(m, "kbridge_sink_records_total", `sink="orders-table"`) == n
	})
	defs, _ := filepath.Glob(filepath.Join(dir, "data", "definitions", "*", "*", "*.json"))
	for _, path := range defs {
		if data, _ := os.ReadFile(path); !bytes.Contains(data, []byte(`"keyId": "docs"`)) {
			t.Errorf("%s is not sealed with the key file's key:\n%s", path, data)
		}
	}
	if len(defs) == 0 {
		t.Error("no definitions record")
	}
}
