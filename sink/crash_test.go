package sink_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/storageapi"
)

// writerEnv makes the test binary act as a writer process: "<dataDir>|<storageURL>|<run>".
const writerEnv = "KBRIDGE_SINK_TEST_WRITER"

const writerGoroutines = 4

// writerProcess writes batches from several goroutines until it is killed and prints
// "ack <stream> <lastOffset>" after each batch is durable (Wait(local)).
func writerProcess() int {
	parts := strings.Split(os.Getenv(writerEnv), "|")
	cfg := testConfig(parts[0])
	client, err := storageapi.New(storageapi.Config{URL: parts[1], Token: masterToken, RequestTimeout: time.Second,
		UploadTimeout: time.Second, Retry: storageapi.RetryConfig{MaxAttempts: 1, InitialInterval: time.Millisecond,
			MaxInterval: time.Millisecond, MaxElapsedTime: time.Second, Multiplier: 1}, JobPoll: storageapi.DefaultConfig().JobPoll,
		GCSEndpoint: "https://storage.googleapis.com"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m, err := sink.New(cfg, sink.Deps{Storage: client, Clock: clock.Real()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, ok := m.Source(sourceKey); !ok {
		settings := sink.Patch{"storage.level.local.encoding.sync.intervalTrigger": "10ms",
			"storage.level.staging.upload.trigger.interval": "30m", "storage.level.target.import.trigger.interval": "24h"}
		if err := m.PutSource(sink.Source{Key: sourceKey, Type: "kafka", Name: "crash", Settings: settings}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if err := m.PutSink(sink.Sink{Key: sinkKey(0), Name: "crash", TableID: "in.c-crash.events", Columns: columns}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	go m.Run(context.Background()) // runs until the process is killed
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := range writerGoroutines {
		wg.Go(func() { writeForever(m, parts[2], g, &out) })
	}
	wg.Wait()
	return 1
}

func writeForever(m *sink.Manager, run string, g int, out *sync.Mutex) {
	stream := fmt.Sprintf("r%s-%d/0", run, g)
	for offset := 0; ; offset += 20 {
		evs := make([]mapping.Event, 20)
		pos := make([]sink.Position, 20)
		for i := range evs {
			id := fmt.Sprintf("%s-%d", stream, offset+i)
			evs[i] = mapping.Event{Kafka: true, Body: fmt.Appendf(nil, `{"id":%q,"name":"n","nested":{"value":%d}}`, id, i)}
			pos[i] = sink.Position{Stream: stream, Offset: int64(offset + i)}
		}
		w, err := m.Write(context.Background(), sourceKey, evs, pos)
		if err == nil && w.Failed() > 0 {
			fmt.Fprintln(os.Stderr, "render failed:", w.Err(0))
			os.Exit(3)
		}
		if err == nil {
			err = w.Wait(context.Background(), sink.LevelLocal)
		}
		if err != nil {
			time.Sleep(time.Millisecond) // backpressure: retry the same batch
			offset -= 20
			continue
		}
		out.Lock()
		fmt.Printf("ack %s %d\n", stream, offset+19)
		out.Unlock()
	}
}

// runWriter starts a writer process, lets it acknowledge a random number of batches, kills it
// with SIGKILL and returns the highest acknowledged offset per stream.
func runWriter(t *testing.T, dir, url string, run int, acked map[string]int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+dir+"|"+url+"|"+strconv.Itoa(run))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killAfter := 20 + rand.IntN(80)
	sc := bufio.NewScanner(stdout)
	for n := 0; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "ack" {
			off, _ := strconv.ParseInt(f[2], 10, 64)
			acked[f[1]] = max(acked[f[1]], off)
		}
		if n == killAfter {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("writer ended with %v, want killed", err)
	}
	if len(acked) == 0 {
		t.Fatal("the writer acknowledged nothing")
	}
}

func TestKilledWriterLosesNoAcknowledgedRow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acked := map[string]int64{}
	runWriter(t, e.dir, e.em.url, 1, acked)
	runWriter(t, e.dir, e.em.url, 2, acked) // restarts over the first crash, then crashes too

	cfg := testConfig(e.dir)
	m, err := sink.New(cfg, sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	recovered, err := m.Recovered(sourceKey)
	if err != nil {
		t.Fatal(err)
	}
	for stream, off := range acked {
		if recovered[stream] < off {
			t.Errorf("recovered offset of %s = %d, acknowledged %d", stream, recovered[stream], off)
		}
	}
	run(t, m)
	e.eventually("every acknowledged row imported", time.Hour, func() bool {
		rows := e.em.rows(t, "in.c-crash.events")
		for stream, last := range acked {
			for off := int64(0); off <= last; off++ {
				if _, ok := rows[fmt.Sprintf("%s-%d", stream, off)]; !ok {
					return false
				}
			}
		}
		return true
	})
	for id := range e.em.rows(t, "in.c-crash.events") {
		if strings.Contains(id, "#dup") {
			t.Fatalf("duplicate row %s", id)
		}
	}
}
