package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

// crashChildEnv makes the test binary act as a kbridge process: sink manager and consumer.
const crashChildEnv = "KBRIDGE_KAFKA_CRASH_CHILD"

type crashChildSpec struct {
	Brokers []string
	Storage string
	DataDir string
	Columns []mapping.Column
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	goleak.VerifyTestMain(m) // every consumer, client and cluster a test starts is gone at the end
}

// crashChild runs the pipeline until it is killed (or, on SIGTERM, until it has shut down).
func crashChild(specJSON string) int {
	var spec crashChildSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	scfg := storageapi.DefaultConfig()
	scfg.URL, scfg.Token = spec.Storage, emulatortest.Token
	scfg.JobPoll.InitialInterval, scfg.JobPoll.MaxInterval = 5*time.Millisecond, 20*time.Millisecond
	client, err := storageapi.New(scfg, storageapi.WithHTTPClient(http.DefaultClient))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := sink.DefaultConfig()
	cfg.DataDir = spec.DataDir
	cfg.Staging.MinInterval, cfg.Target.MinInterval = 0, 0
	m, err := sink.New(cfg, sink.Deps{Storage: client, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err == nil {
		err = m.PutSource(sink.Source{Key: source, Type: "kafka", Name: "events", Settings: sink.Patch{
			"storage.level.local.encoding.sync.intervalTrigger": "10ms",
			"storage.level.staging.upload.trigger.count":        200, "storage.level.target.import.trigger.count": 1000}})
	}
	if err == nil {
		err = m.PutSink(sink.Sink{Key: sink.SinkKey{SourceKey: source, SinkID: "table"}, Name: "table",
			TableID: "in.c-kafka.events", Columns: spec.Columns})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	// A restarted process takes its partitions back at once, as a StatefulSet pod with
	// static membership does.
	p, _, err := kafka.ParsePipeline(map[string]string{"name": "crash", "kbridge.source": source.SourceID, "topics": "orders",
		"batch.max.size": "100", "consumer.override.group.instance.id": "kbridge-0", "consumer.override.session.timeout.ms": "6000"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := kafka.NewConsumer(p, kafka.Deps{Client: kafka.ClientConfig{Brokers: spec.Brokers}, Source: source, Writer: m, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { _ = m.Run(ctx) }()
	<-m.Ready()
	err = c.Run(ctx)
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = m.Close(cctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestCrashRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		columns []mapping.Column
	}{
		{"offset key", keyedColumns},
		{"no key", unkeyed(keyedColumns)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if duplicates := crashRun(t, tc.columns); duplicates != 0 {
				t.Fatalf("%d duplicate rows after the crashes", duplicates)
			}
		})
	}
}

// crashRun kills and restarts a kbridge process every 5 to 8 seconds while records are
// produced and Storage fails now and then (5xx answers, failed jobs, an import whose answer is
// lost), so that kills land while imports run and right after commits; then it lets the last
// process finish. It checks that every record is in the table and returns the number of
// duplicate rows.
func crashRun(t *testing.T, columns []mapping.Column) int {
	e := newEnv(t, map[string]int32{"orders": 4}, columns) // the child process writes; the env's manager stays idle
	spec, _ := json.Marshal(crashChildSpec{Brokers: e.cluster.ListenAddrs(), Storage: e.storageURL, DataDir: t.TempDir(), Columns: columns})
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run", "^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+string(spec))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	const n, chunks = 30000, 60
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for batch := range chunks {
			var recs []*kgo.Record
			for i := range n / chunks {
				recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d}`, batch*(n/chunks)+i))})
			}
			e.produce(recs...)
			time.Sleep(500 * time.Millisecond)
		}
	}()
	em := e.storage.Emulator
	faults := []func(){
		func() { em.InjectFault(emulator.Fault{Endpoint: "importTable", Status: 503}) },
		func() { em.InjectFault(emulator.Fault{Endpoint: "importTable", Status: 502, AnswerLost: true}) },
		func() { em.InjectFault(emulator.Fault{Endpoint: "putBlob", Status: 500, Count: 2}) },
		func() { em.InjectFault(emulator.Fault{Endpoint: "getJob", Status: 502}) },
		func() { em.FailJobs(1, "warehouse restarting") },
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 30))
	for i := range 6 {
		faults[i%len(faults)]()
		cmd := start()
		time.Sleep(time.Duration(5000+rng.IntN(3000)) * time.Millisecond)
		_ = cmd.Process.Kill() // SIGKILL: no shutdown of any kind
		_ = cmd.Wait()
	}
	<-produced
	final := start()
	defer func() { _ = final.Process.Signal(syscall.SIGTERM); _ = final.Wait() }()
	deadline := time.Now().Add(180 * time.Second)
	for {
		ids := map[string]bool{}
		for _, r := range e.rows("in.c-kafka.events") {
			ids[r[3]] = true
		}
		if len(ids) == n {
			break
		}
		if time.Now().After(deadline) {
			var missing []string
			for i := 0; i < n && len(missing) < 20; i++ {
				if !ids[fmt.Sprint(i)] {
					missing = append(missing, fmt.Sprint(i))
				}
			}
			t.Fatalf("%d of %d records in the table; committed %v; missing ids include %v", len(ids), n, e.committed("connect-crash"), missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // an import running twice would land now
	rows := e.rows("in.c-kafka.events")
	if len(rows) < n {
		t.Fatalf("%d rows for %d records", len(rows), n)
	}
	if len(rows) > n {
		seen := map[string]int{}
		doubled := map[string]*local.Ranges{}
		for _, r := range rows {
			if seen[r[3]]++; seen[r[3]] == 2 {
				k := r[0] + "/" + r[1]
				if doubled[k] == nil {
					doubled[k] = &local.Ranges{}
				}
				off, _ := strconv.ParseInt(r[2], 10, 64)
				doubled[k].Add(off)
			}
		}
		for k, rs := range doubled {
			t.Logf("imported twice: %s %v", k, *rs)
		}
		client := emulatortest.Client(t, e.storage.Config(emulatortest.Token))
		jobs, _ := client.ListJobs(context.Background(), 1000)
		byFile := map[int64][]string{}
		for _, j := range jobs {
			if f := j.ImportedFileID(); f != 0 {
				byFile[f] = append(byFile[f], fmt.Sprintf("%d:%s", j.ID, j.Status))
			}
		}
		for f, js := range byFile {
			if len(js) > 1 {
				t.Logf("file %d: jobs %v", f, js)
			}
		}
	}
	return len(rows) - n
}

// unkeyed returns columns without a primary key.
func unkeyed(columns []mapping.Column) []mapping.Column {
	out := append([]mapping.Column(nil), columns...)
	for i := range out {
		out[i].PrimaryKey = false
	}
	return out
}
