package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// clusterConfig is one replica of a distributed kbridge: its own data directory and ports,
// the shared Kafka cluster and the same sealing key as every other replica.
const clusterConfig = `
sink:
  dataDir: %s
  staging: {minInterval: 0s}
  target: {minInterval: 0s}
  encryption: {keys: "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}
storage:
  url: %s
kafka:
  brokers: [%s]
cluster: {enabled: true, member: %s}
metrics: {listen: %s}
intake: {listen: %s, publicUrl: "http://%[6]s"}
api: {listen: %s, publicUrl: "http://%[7]s", intakeUrl: "http://%[6]s"}
connect: {listen: ""}
log: {format: json, level: info}
shutdownTimeout: 5s
`

// replica is one `kbridge run` process of the cluster test.
type replica struct {
	name                 string
	metrics, intake, api string
	cmd                  *exec.Cmd
	logs                 *lockedBuilder
	exited               chan error
}

func (r replica) sources() string { return "http://" + r.api + "/v1/branches/default/sources" }

// launch writes body as r's config file in dir and starts `kbridge run` on it as r.
func (r *replica) launch(t *testing.T, bin, dir, body string) {
	t.Helper()
	config := filepath.Join(dir, r.name+".yaml")
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start(t, bin, "run", "--config", config)
}

// start runs bin with args as r, with the test's Storage token and new logs.
func (r *replica) start(t *testing.T, bin string, args ...string) {
	t.Helper()
	r.logs = &lockedBuilder{}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token")
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	r.exited = startWatched(t, r.cmd, r.logs)
}

// awaitReady waits until r's /readyz answers 200.
func (r replica) awaitReady(t *testing.T) {
	t.Helper()
	waitUntil(t, 60*time.Second, r.name+" /readyz", func() bool { status, _ := get(t, "http://"+r.metrics+"/readyz"); return status == http.StatusOK })
}

// Three `kbridge run` processes share their definitions through one Kafka cluster (kfake)
// and write into one Storage (`kbridge emulator`): a source and sink created on one replica
// are listed by another within 2 s, events posted to the other two land in the table, a
// settings change on one is seen by all, a delete on one makes every intake answer 404
// within 2 s, and two concurrent creates of one source id on two replicas answer one 202 and
// one 409.
func TestClusterSharesDefinitions(t *testing.T) {
	t.Parallel()
	bin, dir, storageURL, kafka := startRunStack(t, 1, "unused")
	const token = "script-token"
	replicas := make([]replica, 3)
	addrs := freeAddrs(t, 3*len(replicas))
	for i := range replicas {
		r := replica{name: fmt.Sprintf("replica-%d", i+1), metrics: addrs[3*i], intake: addrs[3*i+1], api: addrs[3*i+2], logs: &lockedBuilder{}}
		r.launch(t, bin, dir, fmt.Sprintf(clusterConfig, filepath.Join(dir, r.name), storageURL, kafka.ListenAddrs()[0], r.name, r.metrics, r.intake, r.api))
		replicas[i] = r
	}
	for _, r := range replicas {
		r.awaitReady(t)
	}
	r1, r2, r3 := replicas[0], replicas[1], replicas[2]
	auth := []string{"X-StorageApi-Token", token, "Content-Type", "application/json"}

	// A source and a sink created on replica 1, listed by replica 3 within 2 s; the task of the
	// create is polled on the other two at once.
	created := mustTask(t, "create source", r1.sources(), "POST", `{"sourceId":"events","name":"Events","type":"http"}`, auth)
	taskID := regexp.MustCompile(`"taskId":"([^"]+)"`).FindStringSubmatch(created)[1]
	for _, r := range []replica{r2, r3} {
		for _, path := range []string{"/v1/tasks/", "/v1/branches/default/sources/events/tasks/"} {
			status, body := call(t, "GET", "http://"+r.api+path+taskID, "", auth...)
			if status != http.StatusOK || body != created {
				t.Errorf("%s: GET %s%s: %d %s, want 200 %s", r.name, path, taskID, status, body, created)
			}
		}
	}
	mustTask(t, "create sink", r1.sources()+"/events/sinks", "POST", `{"sinkId":"rows","name":"Rows","type":"table","table":{"type":"keboola","tableId":"in.c-demo.rows",`+
		`"mapping":{"columns":[{"type":"uuid","name":"id","primaryKey":true},{"type":"body","name":"body"}]}}}`, auth)
	within(t, 2*time.Second, "replica 3 lists the source and the sink", func() bool {
		s1, src := call(t, "GET", r3.sources(), "", auth...)
		s2, sinks := call(t, "GET", r3.sources()+"/events/sinks", "", auth...)
		return s1 == http.StatusOK && regexp.MustCompile(`"sourceId":"events"`).MatchString(src) &&
			s2 == http.StatusOK && regexp.MustCompile(`"sinkId":"rows"`).MatchString(sinks)
	})

	// A settings change on replica 2 is seen by all (it also makes every row go to the table
	// at once).
	mustTask(t, "patch settings", r2.sources()+"/events/settings", "PATCH", `{"settings":[`+
		`{"key":"storage.level.staging.upload.trigger.count","value":1},{"key":"storage.level.staging.upload.trigger.interval","value":"1s"},`+
		`{"key":"storage.level.target.import.trigger.count","value":1}]}`, auth)
	for _, r := range replicas {
		within(t, 2*time.Second, r.name+" sees the settings", func() bool {
			return settingValue(t, r, "storage.level.target.import.trigger.count") == "1" &&
				settingValue(t, r, "storage.level.staging.upload.trigger.interval") == "1s"
		})
	}

	// Events posted to replicas 2 and 3 are taken and every one lands in the table.
	_, src := call(t, "GET", r1.sources()+"/events", "", auth...)
	m := regexp.MustCompile(`/stream/1/events/([0-9A-Za-z]{48})"`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("no intake URL in %s", src)
	}
	secret := m[1]
	const perReplica = 20
	for _, r := range []replica{r2, r3} {
		for i := range perReplica {
			u := fmt.Sprintf("http://%s/stream/1/events/%s", r.intake, secret)
			if status, body := call(t, "POST", u, fmt.Sprintf(`{"replica":%q,"n":%d}`, r.name, i), "Content-Type", "application/json"); status/100 != 2 {
				t.Fatalf("POST to %s: %d %s", r.name, status, body)
			}
		}
	}
	waitUntil(t, 90*time.Second, "every row in the table", func() bool {
		return len(tableRows(t, storageURL, token, "in.c-demo.rows")) == 2*perReplica
	})
	bodies := map[string]bool{}
	for _, row := range tableRows(t, storageURL, token, "in.c-demo.rows") {
		bodies[row[1]] = true
	}
	for _, r := range []replica{r2, r3} {
		for i := range perReplica {
			if b := fmt.Sprintf(`{"replica":%q,"n":%d}`, r.name, i); !bodies[b] {
				t.Errorf("row %s missing from the table", b)
			}
		}
	}

	// A delete on replica 3: every intake answers 404 within 2 s.
	mustTask(t, "delete source", r3.sources()+"/events", "DELETE", "", auth)
	for _, r := range replicas {
		within(t, 2*time.Second, r.name+"'s intake answers 404", func() bool {
			status, _ := call(t, "POST", fmt.Sprintf("http://%s/stream/1/events/%s", r.intake, secret), `{}`, "Content-Type", "application/json")
			return status == http.StatusNotFound
		})
	}

	// Two concurrent creates of one source id on two replicas: one 202, one 409, for several
	// ids. Most of them pass the API's synchronous "already exists" check on both replicas, and
	// the log's version check decides (kbridge_cluster_writes_total{result="conflict"}).
	for n := range 5 {
		id := fmt.Sprintf("race-%d", n)
		statuses, bodies := make([]int, 2), make([]string, 2)
		var wg sync.WaitGroup
		for i, r := range []replica{r1, r2} {
			wg.Go(func() {
				statuses[i], bodies[i] = call(t, "POST", r.sources(), `{"sourceId":"`+id+`","name":"Race","type":"http"}`, auth...)
			})
		}
		wg.Wait()
		if got := slices.Sorted(slices.Values(statuses)); got[0] != http.StatusAccepted || got[1] != http.StatusConflict {
			t.Fatalf("concurrent creates of %s answered %v: %q", id, statuses, bodies)
		}
		for i, b := range bodies {
			if statuses[i] == http.StatusConflict && !regexp.MustCompile(`"statusCode":409,"error":"stream.api.sourceAlreadyExists"`).MatchString(b) {
				t.Errorf("409 body %s", b)
			}
			if statuses[i] == http.StatusAccepted && !regexp.MustCompile(`"status":"success"`).MatchString(b) {
				t.Errorf("the 202 is no successful task: %s", b)
			}
		}
	}
	var logConflicts float64
	for _, r := range replicas {
		logConflicts += sum(scrape(t, r.metrics), "kbridge_cluster_writes_total", `result="conflict"`)
	}
	if logConflicts == 0 {
		t.Error("no create was decided by the log's version check; the races show nothing")
	}
	t.Logf("%v of 5 races decided by the log's version check", logConflicts)

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

// mustTask sends a Stream API write and fails unless it answers 202 with a successful task;
// it returns the task's JSON.
func mustTask(t *testing.T, what, u, method, body string, headers []string) string {
	t.Helper()
	status, resp := call(t, method, u, body, headers...)
	if status != http.StatusAccepted || !regexp.MustCompile(`"status":"success"`).MatchString(resp) {
		t.Fatalf("%s: %d %s", what, status, resp)
	}
	return resp
}

// within polls cond every 20 ms and fails when it is not true within limit; it logs how long
// cond took to hold.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	begin := time.Now()
	for deadline := begin.Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
	}
	t.Logf("%s after %s", what, time.Since(begin).Round(time.Millisecond))
}

// settingValue is a source setting's value as replica r answers it.
func settingValue(t *testing.T, r replica, key string) string {
	t.Helper()
	status, body := call(t, "GET", r.sources()+"/events/settings", "", "X-StorageApi-Token", "script-token")
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
