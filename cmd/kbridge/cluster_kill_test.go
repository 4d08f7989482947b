package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/storageapi/emulator"
)

// clusterKillConfig is one replica of the kill test: clusterConfig's shared Kafka, Storage and
// sealing key, plus an HTTP source and a Kafka pipeline every replica defines the same way
// (one consumer group, connect-orders, over the three replicas). Every table has a uuid
// primary key, so a row written twice stays twice in the table and is counted.
const clusterKillConfig = clusterConfig + `
sources:
  - id: web
    type: http
    secret: ` + killWebSecret + `
    settings: &fast
      storage.level.local.encoding.sync.intervalTrigger: 10ms
      storage.level.staging.upload.trigger.count: 200
      storage.level.staging.upload.trigger.interval: 1s
      storage.level.target.import.trigger.count: 1
    sinks:
      - id: rows
        tableId: in.c-kill.web
        columns:
          - {type: uuid, name: uuid, primaryKey: true}
          - {type: body, name: body}
  - id: events
    type: kafka
    settings: *fast
    sinks:
      - id: rows
        tableId: in.c-kill.orders
        columns:
          - {type: uuid, name: uuid, primaryKey: true}
          - {type: kafka.partition, name: partition}
          - {type: kafka.offset, name: offset}
          - {type: path, name: id, path: id}
pipelines:
  - name: orders
    kbridge.source: events
    topics: orders
    batch.max.size: "50"
    consumer.override.session.timeout.ms: "6000"
    consumer.override.heartbeat.interval.ms: "500"
    consumer.override.max.poll.interval.ms: "10000"
`

const killWebSecret = "killtest00000000000000000000000000000000killtest"

// Kill -9 of one replica of three under HTTP and Kafka load (issue 15): every HTTP event a
// replica answered 200 (fsynced, the default sync.wait) and every Kafka record ends in its
// table, the consumer group's lag ends at 0, and the killed replica, started again on its data
// directory, lists at once a source created while it was down and takes events for it. The
// three replicas start together, each putting the same configured sources into the log.
//
// Events the killed replica held on its volume are imported once it runs again (HTTP events
// have no other copy). Kafka records it had written but not imported were not committed, so
// the replicas that take its partitions write them again: those are the duplicates
// docs/operations.md ("Distributed mode") allows, counted and logged, never asserted away.
func TestClusterSurvivesKill(t *testing.T) {
	t.Parallel()
	const partitions = 6
	bin, dir, storageURL, kafka := startRunStack(t, partitions, "orders")
	const token = "script-token"
	broker := kafka.ListenAddrs()[0]
	replicas := make([]replica, 3)
	addrs := freeAddrs(t, 3*len(replicas))
	configs := make([]string, len(replicas))
	start := func(i int) {
		r := replicas[i]
		r.logs = &lockedBuilder{}
		r.cmd = exec.Command(bin, "run", "--config", configs[i])
		r.cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN="+token)
		r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
		r.exited = startWatched(t, r.cmd, r.logs)
		replicas[i] = r
	}
	for i := range replicas {
		r := replica{name: fmt.Sprintf("replica-%d", i+1), metrics: addrs[3*i], intake: addrs[3*i+1], api: addrs[3*i+2]}
		configs[i] = filepath.Join(dir, r.name+".yaml")
		body := fmt.Sprintf(clusterKillConfig, filepath.Join(dir, r.name), storageURL, broker, r.name, r.metrics, r.intake, r.api)
		if err := os.WriteFile(configs[i], []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		replicas[i] = r
		start(i)
	}
	ready := func(r replica) bool {
		status, _ := get(t, "http://"+r.metrics+"/readyz")
		return status == http.StatusOK
	}
	for _, r := range replicas {
		waitUntil(t, 60*time.Second, r.name+" /readyz", func() bool { return ready(r) })
	}
	r1, r3 := replicas[0], replicas[2]
	auth := []string{"X-StorageApi-Token", token, "Content-Type", "application/json"}

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// The load: a producer of Kafka records and one HTTP client per replica, each posting
	// events one after the other and keeping those answered 200. A client of the killed
	// replica keeps trying (connections refused are no acknowledgement) until it runs again.
	var (
		produced   atomic.Int64
		ackMu      sync.Mutex
		acked      = map[string]bool{} // bodies of the HTTP events answered 200
		ackedBy    = make([]atomic.Int64, len(replicas))
		refused    atomic.Int64
		stopLoad   = make(chan struct{})
		loadErrs   = make(chan error, 4)
		loadDone   sync.WaitGroup
		httpClient = &http.Client{Timeout: 10 * time.Second}
	)
	loadDone.Go(func() {
		for batch := 0; ; batch++ {
			select {
			case <-stopLoad:
				return
			default:
			}
			var recs []*kgo.Record
			for range 50 {
				recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, `{"id":%d}`, produced.Load()+int64(len(recs)))})
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				loadErrs <- fmt.Errorf("produce: %w", err)
				return
			}
			produced.Add(int64(len(recs)))
			time.Sleep(100 * time.Millisecond) // a pace, not a wait for anything
		}
	})
	intakeURLs := make([]string, len(replicas)) // the restart rewrites replicas[2]; the load reads these
	for i, r := range replicas {
		intakeURLs[i] = fmt.Sprintf("http://%s/stream/1/web/%s", r.intake, killWebSecret)
	}
	for i := range replicas {
		loadDone.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				body := fmt.Sprintf(`{"replica":%d,"n":%d}`, i+1, n)
				status, err := tryPost(httpClient, intakeURLs[i], body)
				switch {
				case err != nil:
					refused.Add(1)
					time.Sleep(20 * time.Millisecond)
				case status == http.StatusOK:
					ackMu.Lock()
					acked[body] = true
					ackMu.Unlock()
					ackedBy[i].Add(1)
				case status/100 == 2:
					loadErrs <- fmt.Errorf("replica-%d answered %d: sync.wait is true, a 2xx other than 200 acknowledges nothing durable", i+1, status)
					return
				default:
					refused.Add(1)
				}
			}
		})
	}
	stop := func() {
		select {
		case <-stopLoad:
		default:
			close(stopLoad)
		}
		loadDone.Wait()
		select {
		case err := <-loadErrs:
			t.Fatal(err)
		default:
		}
	}
	defer stop()

	// Kill -9 replica 3 in the middle of the load, while it holds events not yet imported.
	within(t, 60*time.Second, "load on every replica", func() bool {
		return produced.Load() >= 1000 && ackedBy[2].Load() >= 200 && ackedBy[0].Load() >= 100 && ackedBy[1].Load() >= 100
	})
	pending := sum(scrape(t, r3.metrics), "kbridge_sink_disk_bytes")
	if err := r3.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-r3.exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("replica-3 after SIGKILL: %v", err)
	}
	r3.exited <- nil // for startWatched's cleanup
	killedAt, ackedAtKill, producedAtKill := time.Now(), ackedBy[2].Load(), produced.Load()
	t.Logf("killed replica-3 with %d HTTP events acknowledged by it, %.0f bytes on its volume; %d records produced so far",
		ackedAtKill, pending, producedAtKill)

	// While it is down the survivors take the load, a new source with a sink is created on
	// replica 1 and its settings changed on replica 2.
	mustTask(t, "create source", r1.sources(), "POST", `{"sourceId":"late","name":"Late","type":"http"}`, auth)
	mustTask(t, "create sink", r1.sources()+"/late/sinks", "POST", `{"sinkId":"rows","name":"Rows","type":"table","table":{"type":"keboola","tableId":"in.c-kill.late",`+
		`"mapping":{"columns":[{"type":"uuid","name":"uuid","primaryKey":true},{"type":"body","name":"body"}]}}}`, auth)
	mustTask(t, "patch settings", replicas[1].sources()+"/late/settings", "PATCH", `{"settings":[`+
		`{"key":"storage.level.staging.upload.trigger.count","value":1},{"key":"storage.level.staging.upload.trigger.interval","value":"1s"},`+
		`{"key":"storage.level.target.import.trigger.count","value":1}]}`, auth)
	_, src := call(t, "GET", r1.sources()+"/late", "", auth...)
	m := regexp.MustCompile(`/stream/1/late/([0-9A-Za-z]{48})"`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("no intake URL in %s", src)
	}
	lateURL := func(r replica) string { return fmt.Sprintf("http://%s/stream/1/late/%s", r.intake, m[1]) }
	before := [2]int64{ackedBy[0].Load(), ackedBy[1].Load()}
	waitUntil(t, 30*time.Second, "the survivors taking events after the kill", func() bool {
		return ackedBy[0].Load() >= before[0]+100 && ackedBy[1].Load() >= before[1]+100
	})
	// The survivors take replica 3's partitions once its session times out (6 s) and read
	// them from their committed offsets: the group commits past every record produced before
	// the kill while replica 3 is still down.
	adm := kadm.NewClient(cl)
	committed := func() int64 {
		offs, err := adm.FetchOffsets(context.Background(), "connect-orders")
		if err != nil {
			return 0
		}
		var at int64
		offs.Each(func(o kadm.OffsetResponse) { at += o.At })
		return at
	}
	var survivorsEnds map[int32]int64
	within(t, 45*time.Second, "the survivors holding every partition", func() bool {
		groups, err := adm.DescribeGroups(context.Background(), "connect-orders")
		if err != nil {
			return false
		}
		g := groups["connect-orders"]
		held := 0
		for _, member := range g.Members {
			if a, ok := member.Assigned.AsConsumer(); ok {
				for _, tp := range a.Topics {
					held += len(tp.Partitions)
				}
			}
		}
		if g.State != "Stable" || len(g.Members) != 2 || held != partitions {
			return false
		}
		ends, err := adm.ListEndOffsets(context.Background(), "orders")
		if err != nil {
			return false
		}
		survivorsEnds = map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) { survivorsEnds[o.Partition] = o.Offset })
		return true
	})
	lastBehind := time.Now()
	within(t, 45*time.Second, "the survivors committing every partition past its end when they took it", func() bool {
		offs, err := adm.FetchOffsets(context.Background(), "connect-orders")
		if err != nil {
			return false
		}
		behind := []string{}
		for p, end := range survivorsEnds {
			if o, _ := offs.Lookup("orders", p); o.At < end { // nothing committed: At is 0
				behind = append(behind, fmt.Sprintf("%d at %d of %d", p, o.At, end))
			}
		}
		if len(behind) > 0 && time.Since(lastBehind) > 5*time.Second {
			t.Logf("partitions behind: %v", behind)
			lastBehind = time.Now()
		}
		return len(behind) == 0
	})

	// Replica 3 starts again on its data directory: it lists the new source with its changed
	// settings once it is ready, which it is within seconds, and its intake takes events for it.
	restartedAt := time.Now()
	start(2)
	r3 = replicas[2]
	within(t, 20*time.Second, "the restarted replica-3 is ready and lists the source made while it was down", func() bool {
		if !ready(r3) {
			return false
		}
		status, body := call(t, "GET", r3.sources(), "", auth...)
		return status == http.StatusOK && strings.Contains(body, `"sourceId":"late"`) &&
			lateSetting(t, r3, "storage.level.staging.upload.trigger.interval") == "1s"
	})
	t.Logf("replica-3 was down %s", restartedAt.Sub(killedAt).Round(time.Millisecond))
	var lateBodies []string
	for i, r := range replicas {
		body := fmt.Sprintf(`{"late":%d}`, i+1)
		if status, err := tryPost(httpClient, lateURL(r), body); err != nil || status != http.StatusOK {
			t.Fatalf("POST to the new source on %s: %d %v", r.name, status, err)
		}
		lateBodies = append(lateBodies, body)
	}
	within(t, 30*time.Second, "the restarted replica taking the load again", func() bool { return ackedBy[2].Load() >= ackedAtKill+100 })
	stop()
	total := produced.Load()
	ackMu.Lock()
	ackedBodies := acked
	ackMu.Unlock()
	t.Logf("load: %d Kafka records, %d HTTP events acknowledged (%d, %d, %d by replica), %d requests refused or failed",
		total, len(ackedBodies), ackedBy[0].Load(), ackedBy[1].Load(), ackedBy[2].Load(), refused.Load())

	// Lag 0: the group has committed every partition's end offset. Then every table holds
	// what it must, by content.
	within(t, 90*time.Second, "the group's lag to reach 0", func() bool {
		ends, err := adm.ListEndOffsets(context.Background(), "orders")
		if err != nil {
			return false
		}
		var end int64
		ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
		return end == total && committed() == end
	})
	emDir := filepath.Join(dir, "emulator")
	rows := func(table string) [][]string {
		rs, err := emulator.ReadTableRows(emDir, table)
		if err != nil {
			return nil // an import is writing the table; read again
		}
		return rs
	}
	var kafkaDup, httpDup int
	missing, lastLog := "", time.Now()
	within(t, 90*time.Second, "every Kafka record and acknowledged HTTP event in the tables", func() bool {
		if time.Since(lastLog) > 5*time.Second {
			t.Logf("still missing: %s", missing)
			lastLog = time.Now()
		}
		ids := map[string]int{}
		for _, row := range rows("in.c-kill.orders") {
			ids[row[3]]++
		}
		for i := range total {
			if ids[fmt.Sprintf("%d", i)] == 0 {
				missing = fmt.Sprintf("Kafka record %d", i)
				return false
			}
		}
		kafkaDup = 0
		for _, n := range ids {
			kafkaDup += n - 1
		}
		bodies := map[string]int{}
		for _, row := range rows("in.c-kill.web") {
			bodies[row[1]]++
		}
		for b := range ackedBodies {
			if bodies[b] == 0 {
				missing = "HTTP event " + b
				return false
			}
		}
		httpDup = 0
		for _, n := range bodies {
			httpDup += n - 1
		}
		late := map[string]bool{}
		for _, row := range rows("in.c-kill.late") {
			late[row[1]] = true
		}
		for _, b := range lateBodies {
			if !late[b] {
				missing = "event of the new source " + b
				return false
			}
		}
		return true
	})
	t.Logf("duplicates: %d Kafka records, %d HTTP events", kafkaDup, httpDup)
	if httpDup != 0 {
		t.Errorf("%d HTTP events twice in the table; each was posted once", httpDup)
	}

	for _, r := range replicas {
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range replicas {
		select {
		case err := <-r.exited:
			r.exited <- err
			if err != nil {
				t.Errorf("%s exited: %v", r.name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not stop within 30s of SIGTERM", r.name)
		}
	}
}

// lateSetting is a setting's value of the source "late" as replica r answers it.
func lateSetting(t *testing.T, r replica, key string) string {
	t.Helper()
	status, body := call(t, "GET", r.sources()+"/late/settings", "", "X-StorageApi-Token", "script-token")
	if status != http.StatusOK {
		return ""
	}
	var res struct {
		Settings []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"settings"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("settings of %s: %v: %s", r.name, err, body)
	}
	for _, s := range res.Settings {
		if s.Key == key {
			return fmt.Sprint(s.Value)
		}
	}
	return ""
}

// tryPost posts one JSON event and returns the status, or the error of a request that got no
// answer (a replica that is down).
func tryPost(c *http.Client, u, body string) (int, error) {
	resp, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
