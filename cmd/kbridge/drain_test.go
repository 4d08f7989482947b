package main_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// drainConfig holds an HTTP source and a Kafka pipeline whose triggers never fire within a
// test: what they take stays on the local level until the shutdown.
const drainConfig = `
sink:
  dataDir: %s
storage:
  url: %s
kafka:
  brokers: [%s]
metrics:
  listen: %s
intake: {listen: %s, publicUrl: "http://%[5]s"}
api: {listen: ""}
connect: {listen: ""}
log: {format: text, level: info}
shutdownTimeout: 12s
drainOnShutdown: %t
sources:
  - id: web
    type: http
    secret: %s
    settings: &slow
      storage.level.staging.upload.trigger.interval: 30m
      storage.level.staging.upload.trigger.count: 1000000
      storage.level.target.import.trigger.interval: 1h
      storage.level.target.import.trigger.count: 1000000
    sinks:
      - id: clicks
        tableId: in.c-drain.clicks
        columns:
          - {type: path, name: id, path: id, primaryKey: true}
  - id: events
    type: kafka
    settings: *slow
    sinks:
      - id: orders
        tableId: in.c-drain.orders
        columns:
          - {type: kafka.partition, name: partition, primaryKey: true}
          - {type: kafka.offset, name: offset, primaryKey: true}
          - {type: path, name: id, path: id}
pipelines:
  - name: orders
    kbridge.source: events
    topics: orders
    batch.max.size: "50"
`

// SIGTERM with drainOnShutdown imports what the local level holds before the process exits:
// every acknowledged HTTP event and every Kafka record is in its table, the Kafka offsets are
// committed past them (the members taking the partitions over read nothing again), and no
// slice is left on the volume. Without it, the same shutdown leaves them all on the volume; so
// does a drain while Storage is down, which gives up within shutdownTimeout and commits nothing.
func TestDrainOnShutdown(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name               string
		drain, storageDown bool
	}{
		{"drain", true, false},
		{"no drain", false, false},
		{"drain with Storage down", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const events, records = 120, 600
			bin, dir := buildKbridge(t), t.TempDir()
			em, storageURL := startEmulatorProcess(t, bin, filepath.Join(dir, "emulator"))
			t.Cleanup(func() { _ = em.Process.Kill(); _ = em.Wait() })
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cluster.Close)
			addrs := freeAddrs(t, 2)
			data := filepath.Join(dir, "data")
			cmd, logs, exited := startRun(t, bin, dir, fmt.Sprintf(drainConfig, data, storageURL, cluster.ListenAddrs()[0], addrs[0], addrs[1], c.drain, intakeSecret))
			waitUntil(t, 30*time.Second, "/readyz", func() bool { s, _ := get(t, "http://"+addrs[0]+"/readyz"); return s == http.StatusOK })

			intakeURL := fmt.Sprintf("http://%s/stream/1/web/%s", addrs[1], intakeSecret)
			for i := range events {
				resp, err := http.Post(intakeURL, "application/json", strings.NewReader(fmt.Sprintf(`{"id":%d}`, i)))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("event %d: %d", i, resp.StatusCode)
				}
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			var recs []*kgo.Record
			for i := range records {
				recs = append(recs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, `{"id":%d}`, i)})
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 30*time.Second, "every record on the local level", func() bool {
				return sum(scrape(t, addrs[0]), "kbridge_sink_records_total", `level="local"`, `source="1/1/events"`) == records
			})
			if n := len(tableRows(t, storageURL, "script-token", "in.c-drain.clicks")) + len(tableRows(t, storageURL, "script-token", "in.c-drain.orders")); n != 0 {
				t.Fatalf("%d rows imported before the shutdown: the triggers fired", n)
			}
			if c.storageDown {
				_ = em.Process.Signal(syscall.SIGSTOP) // requests hang, as with a Storage that stopped answering
				t.Cleanup(func() { _ = em.Process.Signal(syscall.SIGCONT) })
			}

			took := terminate(t, cmd, exited, 45*time.Second)
			if c.storageDown {
				_ = em.Process.Signal(syscall.SIGCONT)
			}
			clicks := len(tableRows(t, storageURL, "script-token", "in.c-drain.clicks"))
			orders := len(tableRows(t, storageURL, "script-token", "in.c-drain.orders"))
			committed := committedTotal(t, cl, "connect-orders")
			left := sliceFiles(t, filepath.Join(data, "sinks"))
			t.Logf("SIGTERM to exit %s: %d of %d events and %d of %d records in the tables, %d offsets committed, %d slices on the volume",
				took.Round(time.Millisecond), clicks, events, orders, records, committed, left)
			switch {
			case !c.drain || c.storageDown:
				if clicks != 0 || orders != 0 || committed != 0 || left == 0 {
					t.Fatal("the shutdown imported or committed what it could not have: the test shows nothing")
				}
				if c.storageDown && !strings.Contains(logs.String(), "drain: the rest stays on the volume") {
					t.Error("no failed drain in the logs")
				}
			default:
				if clicks != events || orders != records {
					t.Errorf("tables hold %d events and %d records, want %d and %d", clicks, orders, events, records)
				}
				if committed != records {
					t.Errorf("%d offsets committed, want %d", committed, records)
				}
				if left != 0 {
					t.Errorf("%d slices left on the volume", left)
				}
				if !strings.Contains(logs.String(), "drained: every file of the local level is imported") {
					t.Error("no drain in the logs")
				}
			}
		})
	}
}

// sliceFiles counts the slice data files under dir (an imported slice's is deleted).
func sliceFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name := d.Name(); !d.IsDir() && strings.Contains(name, ".csv") && !strings.HasSuffix(name, ".sync") {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
