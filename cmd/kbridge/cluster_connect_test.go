package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clusterConnectConfig is clusterConfig with the Connect REST API on.
var clusterConnectConfig = strings.Replace(clusterConfig, `connect: {listen: ""}`, `connect: {listen: "%[8]s", auth: {type: none}}`, 1)

// connectStatus is Connect's ConnectorStateInfo, as the test reads it.
type connectStatus struct {
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"tasks"`
}

// taskWorkers is "state@worker" of each task.
func (s connectStatus) taskWorkers() []string {
	out := make([]string, len(s.Tasks))
	for i, t := range s.Tasks {
		out[i] = t.State + "@" + t.WorkerID
	}
	return out
}

// A Connect connector created on replica 2 of three with tasks.max=3 runs its tasks on several
// replicas, all members of its one consumer group: /connectors/{name}/status answers the same
// from every replica, naming the replicas' workers; every record lands once. When a replica
// is killed (-9), the others take its tasks within the liveness timeout and the records keep
// landing; pause, resume and delete on one replica hold on all.
func TestClusterSpreadsConnectorTasks(t *testing.T) {
	t.Parallel()
	bin, dir, storageURL, kafka := startRunStack(t, 6, "orders")
	const token = "script-token"
	broker := kafka.ListenAddrs()[0]
	replicas := make([]replica, 3)
	connects := make([]string, 3)
	addrs := freeAddrs(t, 4*len(replicas))
	for i := range replicas {
		r := replica{name: fmt.Sprintf("replica-%d", i+1), metrics: addrs[4*i], intake: addrs[4*i+1], api: addrs[4*i+2], logs: &lockedBuilder{}}
		connects[i] = "http://" + addrs[4*i+3]
		r.launch(t, bin, dir, fmt.Sprintf(clusterConnectConfig, filepath.Join(dir, r.name), storageURL, broker, r.name, r.metrics, r.intake, r.api, addrs[4*i+3]))
		replicas[i] = r
	}
	for _, r := range replicas {
		r.awaitReady(t)
	}
	auth := []string{"X-StorageApi-Token", token, "Content-Type", "application/json"}
	r1 := replicas[0]
	mustTask(t, "create source", r1.sources(), "POST", `{"sourceId":"orders","name":"Orders","type":"http"}`, auth)
	mustTask(t, "create sink", r1.sources()+"/orders/sinks", "POST", `{"sinkId":"rows","name":"Rows","type":"table","table":{"type":"keboola","tableId":"in.c-connect.orders",`+
		`"mapping":{"columns":[{"type":"path","name":"n","path":"n","primaryKey":true},{"type":"kafka.partition","name":"partition"}]}}}`, auth)
	mustTask(t, "patch settings", r1.sources()+"/orders/settings", "PATCH", `{"settings":[`+
		`{"key":"storage.level.staging.upload.trigger.interval","value":"1s"},{"key":"storage.level.target.import.trigger.count","value":1}]}`, auth)

	// Created on replica 2; listed by the others within 2 s.
	const name = "orders-sink"
	config := `{"name":"` + name + `","config":{"connector.class":"KeboolaSinkConnector","topics":"orders","kbridge.source":"orders","tasks.max":"3",` +
		`"consumer.override.session.timeout.ms":"6000","consumer.override.heartbeat.interval.ms":"500"}}`
	if status, body := call(t, "POST", connects[1]+"/connectors", config, "Content-Type", "application/json"); status != http.StatusCreated {
		t.Fatalf("create connector on replica 2: %d %s", status, body)
	}
	for i, u := range connects {
		within(t, 2*time.Second, replicas[i].name+" lists the connector", func() bool {
			status, body := call(t, "GET", u+"/connectors", "")
			return status == http.StatusOK && strings.TrimSpace(body) == `["`+name+`"]`
		})
	}
	status := func(u string) (connectStatus, bool) {
		code, body := call(t, "GET", u+"/connectors/"+name+"/status", "")
		var s connectStatus
		return s, code == http.StatusOK && json.Unmarshal([]byte(body), &s) == nil
	}
	// spread waits until every replica of live answers the same status: every task in state
	// want, on at least minWorkers workers, none on worker gone; it returns that status.
	spread := func(live []int, want string, minWorkers int, gone string, limit time.Duration) connectStatus {
		t.Helper()
		var first connectStatus
		within(t, limit, fmt.Sprintf("every replica of %v answers 3 tasks %s on %d+ workers", live, want, minWorkers), func() bool {
			var answers [][]string
			for _, i := range live {
				s, ok := status(connects[i])
				if !ok || len(s.Tasks) != 3 {
					return false
				}
				answers = append(answers, s.taskWorkers())
				first = s
			}
			workers := map[string]bool{}
			for _, tw := range answers[0] {
				state, worker, _ := strings.Cut(tw, "@")
				if state != want || worker == gone {
					return false
				}
				workers[worker] = true
			}
			for _, a := range answers[1:] {
				if !slices.Equal(a, answers[0]) {
					return false
				}
			}
			return len(workers) >= minWorkers
		})
		t.Logf("tasks: %v", first.taskWorkers())
		return first
	}
	before := spread([]int{0, 1, 2}, "RUNNING", 2, "", 30*time.Second)

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, to int) {
		t.Helper()
		var recs []*kgo.Record
		for n := from; n < to; n++ {
			recs = append(recs, &kgo.Record{Value: []byte(`{"n":` + strconv.Itoa(n) + `}`)})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	landed := func(n int) {
		t.Helper()
		var rows [][]string
		waitUntil(t, 90*time.Second, fmt.Sprintf("%d rows in the table", n), func() bool {
			rows = tableRows(t, storageURL, token, "in.c-connect.orders")
			return len(rows) >= n
		})
		seen := map[string]bool{}
		for _, row := range rows {
			seen[row[0]] = true
		}
		for i := range n {
			if !seen[strconv.Itoa(i)] {
				t.Errorf("record %d missing from the table", i)
			}
		}
		if len(rows) != n {
			t.Errorf("%d rows, want %d (the primary key keeps one per record)", len(rows), n)
		}
	}
	// The three tasks are three members of the connector's group, its partitions spread over them.
	adm := kadm.NewClient(cl)
	waitUntil(t, 60*time.Second, "the group connect-"+name+" stable with 3 members", func() bool {
		groups, err := adm.DescribeGroups(context.Background(), "connect-"+name)
		if err != nil {
			return false
		}
		g := groups["connect-"+name]
		assigned := 0
		for _, m := range g.Members {
			if c, ok := m.Assigned.AsConsumer(); ok && len(c.Topics) > 0 {
				assigned++
			}
		}
		return g.State == "Stable" && len(g.Members) == 3 && assigned == 3
	})
	produce(0, 600)
	landed(600)
	consumed := 0
	for _, r := range replicas {
		n := sum(scrape(t, r.metrics), "kbridge_kafka_records_total")
		t.Logf("%s consumed %v records", r.name, n)
		if n > 0 {
			consumed++
		}
	}
	if consumed < 2 {
		t.Errorf("records consumed on %d replicas, want the tasks' work on 2 or more", consumed)
	}

	// Kill -9 the replica running task 0: the other two take its tasks.
	victim := slices.IndexFunc(connects, func(u string) bool { return strings.HasSuffix(u, ":"+portOf(before.Tasks[0].WorkerID)) })
	if victim < 0 {
		t.Fatalf("no replica has worker %s", before.Tasks[0].WorkerID)
	}
	if err := replicas[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-replicas[victim].exited
	replicas[victim].exited <- nil
	var live []int
	for i := range replicas {
		if i != victim {
			live = append(live, i)
		}
	}
	spread(live, "RUNNING", 2, before.Tasks[0].WorkerID, 30*time.Second)
	produce(600, 900)
	landed(900)

	// Pause on one live replica, seen on the other; resume; delete, 404 on the other.
	a, b := connects[live[0]], connects[live[1]]
	if code, body := call(t, "PUT", a+"/connectors/"+name+"/pause", ""); code != http.StatusAccepted {
		t.Fatalf("pause: %d %s", code, body)
	}
	spread(live, "PAUSED", 1, "", 5*time.Second)
	if code, body := call(t, "PUT", b+"/connectors/"+name+"/resume", ""); code != http.StatusAccepted {
		t.Fatalf("resume: %d %s", code, body)
	}
	spread(live, "RUNNING", 2, "", 30*time.Second)
	// Stopped on one replica, its offsets reset on the other once every task has left the
	// group: resumed, it reads every record again and writes it again, though the replicas'
	// sinks held them (each replica marks what its own sinks hold), and the primary key keeps
	// one row each.
	if code, body := call(t, "PUT", a+"/connectors/"+name+"/stop", ""); code != http.StatusNoContent {
		t.Fatalf("stop: %d %s", code, body)
	}
	if code, body := call(t, "DELETE", b+"/connectors/"+name+"/offsets", ""); code != http.StatusOK {
		t.Fatalf("reset offsets: %d %s", code, body)
	}
	// The replica that was stopped restarts before the resume: it replays the rewind from the
	// log and marks again what its sinks hold.
	ra := &replicas[live[0]]
	terminate(t, ra.cmd, ra.exited, 30*time.Second)
	ra.start(t, bin, ra.cmd.Args[1:]...)
	ra.awaitReady(t)
	consumedBefore := 0.0
	for _, i := range live {
		consumedBefore += sum(scrape(t, replicas[i].metrics), "kbridge_kafka_records_total")
	}
	if code, body := call(t, "PUT", b+"/connectors/"+name+"/resume", ""); code != http.StatusAccepted {
		t.Fatalf("resume: %d %s", code, body)
	}
	waitUntil(t, 60*time.Second, "every record read again", func() bool {
		total := 0.0
		for _, i := range live {
			total += sum(scrape(t, replicas[i].metrics), "kbridge_kafka_records_total")
		}
		return total-consumedBefore >= 900
	})
	waitUntil(t, 60*time.Second, "every record written again", func() bool {
		return sinkRecords(t, replicas[live[0]], "orders", auth) >= 1800
	})
	landed(900)
	if code, body := call(t, "DELETE", b+"/connectors/"+name, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	within(t, 2*time.Second, "the other replica answers 404", func() bool {
		code, _ := call(t, "GET", a+"/connectors/"+name, "")
		return code == http.StatusNotFound
	})

	// Concurrent creates of one name on the two replicas: one 201, one 409.
	for n := range 3 {
		race := fmt.Sprintf(`{"name":"race-%d","config":{"connector.class":"KeboolaSinkConnector","topics":"orders","kbridge.source":"orders","initial_state":"STOPPED"}}`, n)
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, u := range []string{a, b} {
			wg.Go(func() { codes[i], _ = call(t, "POST", u+"/connectors", race, "Content-Type", "application/json") })
		}
		wg.Wait()
		if slices.Sort(codes); codes[0] != http.StatusCreated || codes[1] != http.StatusConflict {
			t.Errorf("concurrent creates of race-%d answered %v, want one 201 and one 409", n, codes)
		}
	}
	for _, i := range live {
		terminate(t, replicas[i].cmd, replicas[i].exited, 30*time.Second)
	}
}

// portOf is the port of a host:port worker id.
func portOf(worker string) string { return worker[strings.LastIndexByte(worker, ':')+1:] }
