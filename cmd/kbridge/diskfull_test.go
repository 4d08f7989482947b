package main_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

// brokerChildEnv makes the test binary a Kafka broker (kfake) in a process of its own: it
// prints its address and serves until it is killed.
const brokerChildEnv = "KBRIDGE_TEST_BROKER"

func brokerChild() int {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer cluster.Close()
	fmt.Println("broker " + cluster.ListenAddrs()[0])
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	return 0
}

// startBrokerProcess runs a kfake broker in a separate process and returns its address.
func startBrokerProcess(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), brokerChildEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "broker ") {
		t.Fatalf("the broker process did not start: %q", sc.Text())
	}
	go func() { // drain until the process ends
		for sc.Scan() {
		}
	}()
	return strings.TrimPrefix(sc.Text(), "broker ")
}

const diskFullConfig = `
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
      storage.level.staging.upload.trigger.count: 500
      storage.level.target.import.trigger.count: 2000
      storage.level.target.import.trigger.interval: 30s
    sinks:
      - id: table
        tableId: in.c-disk.events
        columns:
          - {type: path, name: id, path: id}
          - {type: kafka.partition, name: partition}
          - {type: kafka.offset, name: offset}
pipelines:
  - name: orders
    kbridge.source: events
    topics: orders
    batch.max.size: "200"
    # A restarted process takes its partitions back at once, as a StatefulSet pod does.
    consumer.override.group.instance.id: kbridge-0
    consumer.override.session.timeout.ms: "10000"
`

// The built binary with its data directory on a 40 MB tmpfs, a broker in a separate
// process and the emulator in another: brief full-disk moments under load, SIGKILL, a full
// disk across a restart, then space back. Every record lands in the table exactly once,
// without a primary key. Needs root (mount); CI runs as root.
func TestFullDiskLosesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; CI runs this test as root")
	}
	t.Parallel()
	bin := buildKbridge(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v\n%s", data, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", data).Run() })
	em, storageURL := startEmulatorProcess(t, bin, filepath.Join(dir, "emulator"))
	t.Cleanup(func() { _ = em.Process.Kill(); _ = em.Wait() })
	broker := startBrokerProcess(t)
	config := filepath.Join(dir, "kbridge.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, diskFullConfig, data, storageURL, broker, freeAddr(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuilder
	var proc *exec.Cmd
	start := func() {
		proc = exec.Command(bin, "run", "--config", config)
		proc.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token")
		proc.Stderr = &logs
		if err := proc.Start(); err != nil {
			t.Fatal(err)
		}
	}
	kill := func() { _ = proc.Process.Kill(); _ = proc.Wait() }
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("kbridge logs (last 8 KB):\n%s", tail(logs.String(), 8<<10))
			if path := os.Getenv("KBRIDGE_TEST_LOGS"); path != "" {
				_ = os.WriteFile(path, []byte(logs.String()), 0o600)
			}
		}
	})

	// Every row of the table, read from the emulator's data directory (data-preview stops at
	// 1,000 rows).
	emulatorData := &emulatortest.Server{DataDir: filepath.Join(dir, "emulator")}
	rows := func() [][]string { return emulatorData.Rows(t, "in.c-disk.events") }
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	next := 0
	produce := func(n int) {
		var recs []*kgo.Record
		for range n {
			recs = append(recs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, `{"id":%d,"pad":"%s"}`, next, strings.Repeat("x", 200))})
			next++
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ballast := filepath.Join(data, "ballast")
	fill := func() { fillDisk(t, ballast) }
	free := func() {
		if err := os.Remove(ballast); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}

	start()
	for range 20 {
		produce(500)
		time.Sleep(50 * time.Millisecond)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	for range 8 { // brief full-disk moments while records flow
		fill()
		produce(1250)
		time.Sleep(time.Duration(100+rng.IntN(800)) * time.Millisecond)
		free()
		time.Sleep(300 * time.Millisecond)
	}
	kill()
	start()
	time.Sleep(2 * time.Second)
	fill() // a long full disk, across a restart
	for range 20 {
		produce(500)
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	kill()
	free()
	start()

	const n = 30000
	deadline := time.Now().Add(3 * time.Minute)
	for len(rows()) < n {
		if time.Now().After(deadline) {
			ids := map[string]bool{}
			for _, r := range rows() {
				ids[r[0]] = true
			}
			var missing []int
			for i := 0; i < n; i++ {
				if !ids[strconv.Itoa(i)] && len(missing) < 30 {
					missing = append(missing, i)
				}
			}
			if os.Getenv("KBRIDGE_TEST_LOGS") != "" {
				_ = proc.Process.Signal(syscall.SIGQUIT) // its goroutines' stacks, into the logs
				time.Sleep(time.Second)
			}
			out, _ := exec.Command("find", data, "-name", "*.json", "-newer", config).Output()
			t.Fatalf("%d distinct ids of %d in the table; committed %d; missing include %v; state files:\n%s",
				len(ids), n, committedTotal(t, cl, "connect-orders"), missing, tail(string(out), 4<<10))
		}
		time.Sleep(500 * time.Millisecond)
	}
	waitUntil(t, time.Minute, "offsets committed to the end", func() bool { return committedTotal(t, cl, "connect-orders") == n })
	time.Sleep(2 * time.Second) // an import running twice would land now
	counts := map[string]int{}
	for _, r := range rows() {
		counts[r[0]]++
	}
	var lost, doubled int
	for i := range n {
		switch counts[strconv.Itoa(i)] {
		case 0:
			lost++
		case 1:
		default:
			doubled++
		}
	}
	if lost != 0 || doubled != 0 || len(counts) != n {
		t.Fatalf("%d of %d records lost, %d imported more than once (%d distinct ids)", lost, n, doubled, len(counts))
	}
	if !strings.Contains(logs.String(), "no space left on device") {
		t.Fatal("the disk never filled up: the test proved nothing")
	}
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return
		}
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 256<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				for len(chunk) > 512 { // the last bytes too
					chunk = chunk[:len(chunk)/2]
					for {
						if _, err := f.Write(chunk); err != nil {
							break
						}
					}
				}
				return
			}
			t.Fatal(err)
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
