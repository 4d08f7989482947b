package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// Three `kbridge run` processes in distributed mode each write the events posted to them; once
// every row is in the table, statistics/total asked of each replica counts the rows of the
// whole table, not only the replica's own, and statistics/files lists every replica's files:
// each replica publishes its totals and files to the status topic and sums everyone's. A
// replica that leaves stays counted by the others: its rows stay in the table.
func TestClusterStatisticsTotal(t *testing.T) {
	t.Parallel()
	bin, dir, storageURL, kafka := startRunStack(t, 1, "unused")
	const token = "script-token"
	replicas := make([]replica, 3)
	addrs := freeAddrs(t, 3*len(replicas))
	for i := range replicas {
		r := replica{name: fmt.Sprintf("stats-%d", i+1), metrics: addrs[3*i], intake: addrs[3*i+1], api: addrs[3*i+2], logs: &lockedBuilder{}}
		r.launch(t, bin, dir, fmt.Sprintf(clusterConfig, filepath.Join(dir, r.name), storageURL, kafka.ListenAddrs()[0], r.name, r.metrics, r.intake, r.api))
		replicas[i] = r
	}
	for _, r := range replicas {
		r.awaitReady(t)
	}
	r1 := replicas[0]
	auth := []string{"X-StorageApi-Token", token, "Content-Type", "application/json"}

	// A source and sink created on replica 1, importing every event at once.
	mustTask(t, "create source", r1.sources(), "POST", `{"sourceId":"events","name":"Events","type":"http"}`, auth)
	mustTask(t, "create sink", r1.sources()+"/events/sinks", "POST", `{"sinkId":"rows","name":"Rows","type":"table","table":{"type":"keboola","tableId":"in.c-demo.stats",`+
		`"mapping":{"columns":[{"type":"uuid","name":"id","primaryKey":true},{"type":"body","name":"body"}]}}}`, auth)
	mustTask(t, "patch settings", r1.sources()+"/events/settings", "PATCH", `{"settings":[`+
		`{"key":"storage.level.staging.upload.trigger.count","value":1},{"key":"storage.level.staging.upload.trigger.interval","value":"1s"},`+
		`{"key":"storage.level.target.import.trigger.count","value":1}]}`, auth)
	for _, r := range replicas {
		waitUntil(t, 10*time.Second, r.name+" sees the settings", func() bool {
			return settingValue(t, r, "storage.level.target.import.trigger.count") == "1"
		})
	}
	_, src := call(t, "GET", r1.sources()+"/events", "", auth...)
	m := regexp.MustCompile(`/stream/1/events/([0-9A-Za-z]{48})"`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("no intake URL in %s", src)
	}

	// Events posted to every replica, a different number to each, so that no replica's own
	// totals can equal the table's.
	want := 0
	for i, r := range replicas {
		for n := range 5 * (i + 1) {
			u := fmt.Sprintf("http://%s/stream/1/events/%s", r.intake, m[1])
			if status, body := call(t, "POST", u, fmt.Sprintf(`{"replica":%q,"n":%d}`, r.name, n), "Content-Type", "application/json"); status/100 != 2 {
				t.Fatalf("POST to %s: %d %s", r.name, status, body)
			}
			want++
		}
	}
	waitUntil(t, 90*time.Second, "every row in the table", func() bool {
		return len(tableRows(t, storageURL, token, "in.c-demo.stats")) == want
	})
	rows := len(tableRows(t, storageURL, token, "in.c-demo.stats"))

	// Once idle, statistics/total of every replica equals the table's rows, all of them at the
	// target level.
	for _, r := range replicas {
		var last string
		counts := func() bool {
			status, body := call(t, "GET", r.sources()+"/events/sinks/rows/statistics/total", "", auth...)
			last = fmt.Sprintf("%d %s", status, body)
			if status != http.StatusOK {
				return false
			}
			var st struct {
				Total  struct{ RecordsCount int } `json:"total"`
				Levels struct {
					Target *struct{ RecordsCount int } `json:"target"`
				} `json:"levels"`
			}
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatalf("statistics of %s: %v: %s", r.name, err, body)
			}
			return st.Total.RecordsCount == rows && st.Levels.Target != nil && st.Levels.Target.RecordsCount == rows
		}
		for deadline := time.Now().Add(30 * time.Second); !counts(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s's statistics/total does not count the table's %d rows within 30s: %s", r.name, rows, last)
			}
		}
		t.Logf("%s: %s", r.name, last)
	}

	// statistics/files of every replica lists every replica's files; their records add up to
	// the table's rows.
	for _, r := range replicas {
		var last string
		var files int
		listsAll := func() bool {
			status, body := call(t, "GET", r.sources()+"/events/sinks/rows/statistics/files", "", auth...)
			last = fmt.Sprintf("%d %s", status, body)
			if status != http.StatusOK {
				return false
			}
			var res struct {
				Files []struct {
					Statistics struct {
						Total struct{ RecordsCount int } `json:"total"`
					} `json:"statistics"`
				} `json:"files"`
			}
			if err := json.Unmarshal([]byte(body), &res); err != nil {
				t.Fatalf("files of %s: %v: %s", r.name, err, body)
			}
			records := 0
			files = len(res.Files)
			for _, f := range res.Files {
				records += f.Statistics.Total.RecordsCount
			}
			return records == rows
		}
		for deadline := time.Now().Add(30 * time.Second); !listsAll(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s's statistics/files does not add up to the table's %d rows within 30s: %s", r.name, rows, last)
			}
		}
		t.Logf("%s: statistics/files lists %d files in %d bytes", r.name, files, len(last))
	}

	// Replica 3 leaves (SIGTERM): the rows it imported stay in the table, and its last totals
	// stay in the other replicas' answers.
	r3 := replicas[2]
	if err := r3.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r3.exited:
		r3.exited <- err
		if err != nil {
			t.Fatalf("%s exited: %v", r3.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30s of SIGTERM", r3.name)
	}
	for _, r := range replicas[:2] {
		if got := recordsCount(t, r, auth); got != rows {
			t.Errorf("%s after %s left: %d records, want the table's %d", r.name, r3.name, got, rows)
		}
	}

	// statistics/clear on replica 1 restarts the numbers of the whole cluster, the departed
	// replica's included; what is posted afterwards counts again, on every replica.
	if status, body := call(t, "DELETE", r1.sources()+"/events/sinks/rows/statistics/clear", "", auth...); status != http.StatusOK {
		t.Fatalf("statistics/clear: %d %s", status, body)
	}
	for _, r := range replicas[:2] {
		within(t, 3*time.Second, r.name+" answers 0 records after the clear", func() bool { return recordsCount(t, r, auth) == 0 })
	}
	r2 := replicas[1]
	for n := range 5 {
		u := fmt.Sprintf("http://%s/stream/1/events/%s", r2.intake, m[1])
		if status, body := call(t, "POST", u, fmt.Sprintf(`{"after":"clear","n":%d}`, n), "Content-Type", "application/json"); status/100 != 2 {
			t.Fatalf("POST to %s: %d %s", r2.name, status, body)
		}
	}
	for _, r := range replicas[:2] {
		within(t, 10*time.Second, r.name+" counts the 5 events posted after the clear", func() bool { return recordsCount(t, r, auth) == 5 })
	}

	for _, r := range replicas[:2] {
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range replicas[:2] {
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

// recordsCount is statistics/total's total recordsCount of the sink "rows" as r answers it.
func recordsCount(t *testing.T, r replica, auth []string) int {
	t.Helper()
	return sinkRecords(t, r, "events", auth)
}

// sinkRecords is the recordsCount of statistics/total of source's sink rows, as r answers it.
func sinkRecords(t *testing.T, r replica, source string, auth []string) int {
	t.Helper()
	status, body := call(t, "GET", r.sources()+"/"+source+"/sinks/rows/statistics/total", "", auth...)
	var st struct {
		Total struct{ RecordsCount int } `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &st); status != http.StatusOK || err != nil {
		t.Fatalf("statistics of %s: %d %v: %s", r.name, status, err, body)
	}
	return st.Total.RecordsCount
}
