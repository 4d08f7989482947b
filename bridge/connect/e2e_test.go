package connect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/connect"
)

// confluentConfig is an unchanged Confluent HTTP sink config aimed at the source's intake URL.
func confluentConfig(name string) string {
	return fmt.Sprintf(`{"name": %q, "config": {"connector.class": "io.confluent.connect.http.HttpSinkConnector",
		"topics": "events", "tasks.max": "1", "http.api.url": "https://stream.keboola.com/stream/1/events/%s",
		"request.method": "POST", "batch.max.size": 10, "max.retries": 10, "retry.backoff.ms": 3000,
		"headers": "Content-Type:application/json", "key.converter": "org.apache.kafka.connect.storage.StringConverter",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "reporter.bootstrap.servers": "kafka:9092"}}`, name, secret)
}

// call calls the API as the admin and returns the answer's JSON compacted.
func (e *env) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	status, raw := e.as(t, basic(testAuth.AdminUsername, testAuth.AdminPassword), method, path, body)
	var v any
	_ = json.Unmarshal([]byte(raw), &v)
	out, _ := json.Marshal(v)
	return status, string(out)
}

func (e *env) connectorState(t *testing.T, name string) string {
	t.Helper()
	_, body := e.call(t, "GET", "/connectors/"+name+"/status", "")
	var st struct{ Connector struct{ State string } }
	_ = json.Unmarshal([]byte(body), &st)
	return st.Connector.State
}

// TestConfluentConfigEndToEnd posts an unchanged Confluent HTTP sink config and finds the
// produced records as rows of the source's table; a paused connector consumes nothing until
// it is resumed.
func TestConfluentConfigEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.start()
	if status, body := e.call(t, "POST", "/connectors", confluentConfig("orders")); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	e.produce(`{"id":1}`, `{"id":2}`, `{"id":3}`)
	waitFor(t, 20*time.Second, "3 rows", func() bool { return len(e.storage.Rows(t, tableID)) == 3 })
	if got := e.connectorState(t, "orders"); got != "RUNNING" {
		t.Fatalf("state %s, want RUNNING", got)
	}

	if status, _ := e.call(t, "PUT", "/connectors/orders/pause", ""); status != http.StatusAccepted {
		t.Fatalf("pause: %d", status)
	}
	e.produce(`{"id":4}`)
	time.Sleep(500 * time.Millisecond)
	if n := len(e.storage.Rows(t, tableID)); n != 3 {
		t.Fatalf("a paused connector consumed: %d rows", n)
	}
	if status, _ := e.call(t, "PUT", "/connectors/orders/resume", ""); status != http.StatusAccepted {
		t.Fatalf("resume: %d", status)
	}
	waitFor(t, 20*time.Second, "4 rows", func() bool { return len(e.storage.Rows(t, tableID)) == 4 })
	for _, row := range e.storage.Rows(t, tableID) {
		if !strings.HasPrefix(row[len(row)-1], `{"id":`) {
			t.Errorf("row %q: want the record value in the body column", row)
		}
	}
}

// aivenConfig is a real-world Aiven HTTP sink config, unchanged but for http.url, which is the
// source's Data Streams URL.
func aivenConfig(name string) string {
	return fmt.Sprintf(`{"name": %q, "config": {
		"connector.class": "io.aiven.kafka.connect.http.HttpSinkConnector",
		"topics": "events",
		"tasks.max": "1",
		"http.url": "https://stream.keboola.com/stream/1/events/%s",
		"http.authorization.type": "none",
		"http.headers.content.type": "application/json",
		"http.headers.additional": "X-Forwarded-By:kafka-connect",
		"http.timeout": "30",
		"batching.enabled": "true",
		"batch.max.size": "50",
		"batch.prefix": "",
		"batch.suffix": "\n",
		"batch.separator": "\n",
		"max.retries": "5",
		"retry.backoff.ms": "2000",
		"key.converter": "org.apache.kafka.connect.storage.StringConverter",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter",
		"errors.tolerance": "none"}}`, name, secret)
}

// TestHTTPSinkConfigsEndToEnd posts unchanged Confluent and Aiven HTTP sink configs and finds
// the records as rows of the source's table, produced by franz-go and by kcat (librdkafka).
func TestHTTPSinkConfigsEndToEnd(t *testing.T) {
	configs := []struct {
		name   string
		config func(name string) string
		kept   []string // in GET …/config, as posted
	}{
		{"confluent", confluentConfig, []string{`"http.api.url":"https://stream.keboola.com/stream/1/events/` + secret + `"`,
			`"headers":"Content-Type:application/json"`}},
		{"aiven", aivenConfig, []string{`"http.url":"https://stream.keboola.com/stream/1/events/` + secret + `"`,
			`"batching.enabled":"true"`, `"batch.separator":"\n"`}},
	}
	producers := []struct {
		name    string
		produce func(e *env, values ...string)
	}{
		{"franz-go", (*env).produce},
		{"kcat", (*env).produceKcat},
	}
	for _, cfg := range configs {
		for _, pr := range producers {
			t.Run(cfg.name+"/"+pr.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				e.start()
				if status, body := e.call(t, "POST", "/connectors", cfg.config("http-sink")); status != http.StatusCreated {
					t.Fatalf("create: %d %s", status, body)
				}
				const n = 120
				values := make([]string, n)
				for i := range values {
					values[i] = fmt.Sprintf(`{"id":%d,"page":"/p/%d"}`, i, i%7)
				}
				pr.produce(e, values...)
				waitFor(t, 30*time.Second, "a row per record", func() bool { return len(e.storage.Rows(t, tableID)) >= n })
				rows := e.storage.Rows(t, tableID)
				got := make([]string, len(rows))
				for i, row := range rows {
					got[i] = row[len(row)-1]
				}
				slices.Sort(got)
				slices.Sort(values)
				if !slices.Equal(got, values) {
					t.Fatalf("bodies of %d rows, want the %d record values:\n%q", len(got), n, got)
				}
				if got := e.connectorState(t, "http-sink"); got != "RUNNING" {
					t.Fatalf("state %s, want RUNNING", got)
				}
				_, body := e.call(t, "GET", "/connectors/http-sink/config", "")
				for _, want := range cfg.kept {
					if !strings.Contains(body, want) {
						t.Errorf("config %s: missing %s, as posted", body, want)
					}
				}
			})
		}
	}
}

// produceKcat produces values to the events topic with kcat, keyed, as librdkafka clients do.
func (e *env) produceKcat(values ...string) {
	e.t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		e.t.Fatal("kcat is not installed: make test installs Debian's kcat package")
	}
	var lines strings.Builder
	for i, v := range values {
		fmt.Fprintf(&lines, "user-%d|%s\n", i%5, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", strings.Join(e.cluster.ListenAddrs(), ","), "-t", "events", "-P", "-K", "|")
	cmd.Stdin = strings.NewReader(lines.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("kcat: %v\n%s", err, out)
	}
}

// TestPersistedAcrossRestarts creates connectors, changes their state, restarts the API on the
// same directory and finds them again, each in its state; a deleted one stays deleted.
func TestPersistedAcrossRestarts(t *testing.T) {
	e := newEnv(t)
	e.start()
	for _, name := range []string{"a", "b", "c"} {
		if status, body := e.call(t, "POST", "/connectors", confluentConfig(name)); status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, status, body)
		}
	}
	e.call(t, "PUT", "/connectors/a/stop", "")
	e.call(t, "PUT", "/connectors/b/pause", "")
	if status, _ := e.call(t, "DELETE", "/connectors/c", ""); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	e.stop()

	e.start()
	if _, body := e.call(t, "GET", "/connectors", ""); body != `["a","b"]` {
		t.Fatalf("connectors after restart: %s", body)
	}
	for name, want := range map[string]string{"a": "STOPPED", "b": "PAUSED"} {
		if got := e.connectorState(t, name); got != want {
			t.Errorf("%s: state %s, want %s", name, got, want)
		}
	}
	_, cfg := e.call(t, "GET", "/connectors/a/config", "")
	if !strings.Contains(cfg, `"batch.max.size":"10"`) {
		t.Errorf("config after restart: %s", cfg)
	}
}

// TestConnectorFiles reads connectors from .properties and JSON files at start, as
// connect-standalone does, runs them, and refuses a file with an invalid config.
func TestConnectorFiles(t *testing.T) {
	dir := t.TempDir()
	props := "# a Connect standalone file\nname=props\nconnector.class=io.kbridge.KeboolaSinkConnector\n" +
		"topics = events\nkbridge.source: events\nbatch.max.size 5\nconsumer.override.group.id=\\\n  props-group\n"
	files := map[string]string{
		"props.properties": props,
		"post.json":        `{"name": "post", "config": {"connector.class": "KeboolaSinkConnector", "topics": "events", "kbridge.source": "events", "tasks.max": 2}}`,
		"flat.json":        `{"name": "flat", "connector.class": "KeboolaSinkConnector", "topics": "events", "kbridge.source": "events"}`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t)
	e.start(dir)
	if _, body := e.call(t, "GET", "/connectors", ""); body != `["flat","post","props"]` {
		t.Fatalf("connectors: %s", body)
	}
	_, cfg := e.call(t, "GET", "/connectors/props/config", "")
	for _, want := range []string{`"topics":"events"`, `"kbridge.source":"events"`, `"batch.max.size":"5"`, `"consumer.override.group.id":"props-group"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("props config %s: missing %s", cfg, want)
		}
	}
	if got := e.connectorState(t, "post"); got != "RUNNING" {
		t.Errorf("post: state %s", got)
	}
	e.produce(`{"id":1}`)
	waitFor(t, 20*time.Second, "a row", func() bool { return len(e.storage.Rows(t, tableID)) >= 1 })

	bad := filepath.Join(t.TempDir(), "bad.properties")
	if err := os.WriteFile(bad, []byte("name=bad\nconnector.class=KeboolaSinkConnector\nkbridge.source=events\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := connect.New(connect.Config{Listen: ":0", StateDir: t.TempDir(), Connectors: []string{bad}, Auth: testAuth}, connect.Deps{})
	if err == nil || !strings.Contains(err.Error(), "topics") {
		t.Errorf("bad file: got %v, want an error naming topics", err)
	}
}

// TestFailedTaskTrace makes a task fail (a tombstone under behavior.on.null.values=fail) and
// finds it FAILED with the reason in the status; the other task, which the failure stopped, is
// FAILED with a trace naming it. A restart of failed tasks starts them again.
func TestFailedTaskTrace(t *testing.T) {
	e := newEnv(t)
	e.start()
	cfg := `{"name": "strict", "config": {"connector.class": "KeboolaSinkConnector", "topics": "events",
		"kbridge.source": "events", "behavior.on.null.values": "fail", "tasks.max": 2}}`
	if status, body := e.call(t, "POST", "/connectors", cfg); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	e.waitMembers(t, "connect-strict", 2) // the tombstone's partition has an owner, and only one
	e.produceTombstone()
	type task struct {
		ID           int
		State, Trace string
	}
	var st struct {
		Connector struct{ State string }
		Tasks     []task
	}
	waitFor(t, 20*time.Second, "FAILED", func() bool {
		_, body := e.call(t, "GET", "/connectors/strict/status", "")
		return json.Unmarshal([]byte(body), &st) == nil && len(st.Tasks) == 2 &&
			st.Tasks[0].State == "FAILED" && st.Tasks[1].State == "FAILED"
	})
	failed := slices.IndexFunc(st.Tasks, func(t task) bool { return strings.HasPrefix(t.Trace, "record events/") })
	if failed < 0 || st.Connector.State != "RUNNING" {
		t.Fatalf("no task failed with the record: %+v", st)
	}
	want := fmt.Sprintf("stopped because task %d failed: record events/", failed)
	if other := st.Tasks[1-failed]; !strings.HasPrefix(other.Trace, want) {
		t.Fatalf("task %d trace %q, want %q…", other.ID, other.Trace, want)
	}
	_, body := e.call(t, "GET", fmt.Sprintf("/connectors/strict/tasks/%d/status", failed), "")
	if !strings.Contains(body, `"trace":"record events/`) {
		t.Fatalf("task status %s", body)
	}
	status, body := e.call(t, "POST", "/connectors/strict/restart?includeTasks=true&onlyFailed=true", "")
	if status != http.StatusAccepted || !strings.Contains(body, `"RESTARTING"`) {
		t.Fatalf("restart: %d %s", status, body)
	}
}
