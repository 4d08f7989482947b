package streamapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/streamapi"
)

type versionJSON struct {
	Number      int
	Hash        string
	Description string
	At          string
	By          struct{ Type, TokenID string }
}

type entityJSON struct {
	SourceID, SinkID, Name string
	Version                versionJSON
	Created                *struct{ At string }
	Deleted                *struct{ At string }
	Disabled               *struct{ Reason string }
	Table                  struct {
		Mapping struct{ Columns []struct{ Name string } }
	}
}

type taskJSON struct {
	TaskID, Status, Result, Error string
}

func (e *env) getJSON(t *testing.T, path string, want int, v any) {
	t.Helper()
	if err := json.Unmarshal(e.call(t, "GET", path, "", want), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// task sends a write call, checks its task succeeded and returns it.
func (e *env) task(t *testing.T, method, path, body string) taskJSON {
	t.Helper()
	var task taskJSON
	if err := json.Unmarshal(e.call(t, method, path, body, 202), &task); err != nil {
		t.Fatal(err)
	}
	if task.Status != "success" {
		t.Fatalf("%s %s: task %s: %s", method, path, task.Status, task.Error)
	}
	return task
}

const (
	shop  = "/v1/branches/default/sources/shop"
	order = shop + "/sinks/orders"
)

func ordersSink(name string) string {
	return fmt.Sprintf(`{"sinkId":"orders","name":%q,"table":{"type":"keboola","tableId":"in.c-shop.orders","mapping":{"columns":[
		{"type":"uuid","name":"id","primaryKey":true},{"type":"body","name":"body"}]}}}`, name)
}

// TestVersionsAndRollback changes a sink twice, reads its versions over HTTP and rolls back.
func TestVersionsAndRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.task(t, "POST", "/v1/branches/default/sources", `{"name":"Shop","type":"http"}`)
	e.task(t, "POST", shop+"/sinks", ordersSink("Orders"))
	e.task(t, "PATCH", order, `{"name":"Orders v2","changeDescription":"Renamed."}`)
	e.task(t, "PATCH", order, `{"table":{"type":"keboola","tableId":"in.c-shop.orders","mapping":{"columns":[
		{"type":"uuid","name":"id","primaryKey":true},{"type":"body","name":"body"},{"type":"ip","name":"ip"}]}}}`)

	var list struct {
		Versions []versionJSON
		Page     struct{ LastID string }
	}
	e.getJSON(t, order+"/versions", 200, &list)
	var got []string
	for _, v := range list.Versions {
		got = append(got, fmt.Sprintf("%d %s %s", v.Number, v.Description, v.By.Type))
	}
	if want := "1 New sink. user|2 Renamed. user|3 Updated. user"; strings.Join(got, "|") != want || list.Page.LastID != "3" {
		t.Fatalf("versions %q (lastId %q), want %q", got, list.Page.LastID, want)
	}
	e.getJSON(t, order+"/versions?afterId=1&limit=1", 200, &list)
	if len(list.Versions) != 1 || list.Versions[0].Number != 2 {
		t.Fatalf("page after 1: %+v", list.Versions)
	}
	var v1 versionJSON
	e.getJSON(t, order+"/versions/1", 200, &v1)
	if v1.Number != 1 || len(v1.Hash) != 16 || v1.Description != "New sink." {
		t.Fatalf("version 1: %+v", v1)
	}
	e.call(t, "GET", order+"/versions/9", "", 404)
	e.call(t, "PUT", order+"/versions/9/rollback", "", 404)

	e.task(t, "PUT", order+"/versions/1/rollback", "")
	var sinkNow entityJSON
	e.getJSON(t, order, 200, &sinkNow)
	if sinkNow.Name != "Orders" || len(sinkNow.Table.Mapping.Columns) != 2 || sinkNow.Version.Number != 4 ||
		sinkNow.Version.Description != `Rollback to version "1".` || sinkNow.Version.Hash != v1.Hash {
		t.Fatalf("after rollback: %+v", sinkNow)
	}

	e.task(t, "PATCH", shop, `{"name":"Shop 2"}`)
	e.task(t, "PUT", shop+"/versions/1/rollback", "")
	var src entityJSON
	e.getJSON(t, shop, 200, &src)
	if src.Name != "Shop" || src.Version.Number != 3 || src.Created == nil || src.Created.At == "" {
		t.Fatalf("source after rollback: %+v", src)
	}
	var srcVersions struct{ Versions []versionJSON }
	e.getJSON(t, shop+"/versions", 200, &srcVersions)
	if n := len(srcVersions.Versions); n != 3 || srcVersions.Versions[0].Hash != srcVersions.Versions[2].Hash {
		t.Fatalf("source versions: %+v", srcVersions.Versions)
	}
}

// TestUndeleteAndRecreate deletes a sink and its source, lists them as deleted, undeletes
// them, and creates a deleted source's id again.
func TestUndeleteAndRecreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.task(t, "POST", "/v1/branches/default/sources", `{"name":"Shop","type":"http"}`)
	e.task(t, "POST", shop+"/sinks", ordersSink("Orders"))

	e.task(t, "DELETE", order, "")
	e.call(t, "GET", order, "", 404)
	var deletedSinks struct{ Sinks []entityJSON }
	e.getJSON(t, shop+"/sinks/deleted", 200, &deletedSinks)
	if len(deletedSinks.Sinks) != 1 || deletedSinks.Sinks[0].Deleted == nil {
		t.Fatalf("deleted sinks: %+v", deletedSinks.Sinks)
	}
	e.task(t, "PUT", order+"/undelete", "")
	var sinkNow entityJSON
	e.getJSON(t, order, 200, &sinkNow)
	if sinkNow.Deleted != nil || sinkNow.Version.Number != 2 || sinkNow.Version.Description != `Undeleted to version "1".` {
		t.Fatalf("undeleted sink: %+v", sinkNow)
	}
	e.call(t, "PUT", order+"/undelete", "", 404) // not deleted any more

	// The source's deletion takes its sink with it; the undeletion brings both back.
	e.task(t, "DELETE", shop, "")
	e.call(t, "GET", shop, "", 404)
	e.call(t, "GET", shop+"/sinks", "", 404)
	var deleted struct{ Sources []entityJSON }
	e.getJSON(t, "/v1/branches/default/sources/deleted", 200, &deleted)
	if len(deleted.Sources) != 1 || deleted.Sources[0].SourceID != "shop" || deleted.Sources[0].Deleted == nil {
		t.Fatalf("deleted sources: %+v", deleted.Sources)
	}
	e.task(t, "PUT", shop+"/undelete", "")
	e.getJSON(t, order, 200, &sinkNow)
	if sinkNow.Version.Number != 3 {
		t.Fatalf("sink after the source's undelete: %+v", sinkNow)
	}
	e.getJSON(t, "/v1/branches/default/sources/deleted", 200, &deleted)
	if len(deleted.Sources) != 0 {
		t.Fatalf("still deleted: %+v", deleted.Sources)
	}

	// A deleted source's id can be created again: the new content, the versions counting on,
	// its old sinks still deleted.
	e.task(t, "DELETE", shop, "")
	e.task(t, "POST", "/v1/branches/default/sources", `{"sourceId":"shop","name":"Shop again","type":"http"}`)
	var src entityJSON
	e.getJSON(t, shop, 200, &src)
	if src.Name != "Shop again" || src.Version.Number != 3 || src.Version.Description != "New source." || src.Deleted != nil {
		t.Fatalf("recreated source: %+v", src)
	}
	var sinks struct{ Sinks []entityJSON }
	e.getJSON(t, shop+"/sinks", 200, &sinks)
	e.getJSON(t, shop+"/sinks/deleted", 200, &deletedSinks)
	if len(sinks.Sinks) != 0 || len(deletedSinks.Sinks) != 1 {
		t.Fatalf("sinks %+v, deleted %+v", sinks.Sinks, deletedSinks.Sinks)
	}
	e.task(t, "POST", shop+"/sinks", ordersSink("Orders again"))
	e.getJSON(t, order, 200, &sinkNow)
	if sinkNow.Name != "Orders again" || sinkNow.Version.Number != 4 {
		t.Fatalf("recreated sink: %+v", sinkNow)
	}
}

// TestTasksPersistAndSourcePath reads a task under its source's path and, after the API
// restarted over the same data directory, again.
func TestTasksPersistAndSourcePath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	created := e.task(t, "POST", "/v1/branches/default/sources", `{"name":"Shop","type":"http"}`)
	e.task(t, "POST", "/v1/branches/default/sources", `{"name":"Other","type":"http"}`)
	path := shop + "/tasks/" + created.TaskID
	var got taskJSON
	e.getJSON(t, path, 200, &got)
	if got != created {
		t.Fatalf("task %+v, want %+v", got, created)
	}
	e.call(t, "GET", "/v1/branches/default/sources/other/tasks/"+created.TaskID, "", 404)
	e.call(t, "GET", shop+"/tasks/api.create.source/1/shop/nosuchtask", "", 404)

	e.startAPI()
	got = taskJSON{}
	e.getJSON(t, "/v1/tasks/"+created.TaskID, 200, &got)
	if got != created {
		t.Fatalf("after a restart: task %+v, want %+v", got, created)
	}
	e.getJSON(t, path, 200, &got)
}

// TestKafkaOnlyPrimaryKeyOnHTTPSource: HTTP events have empty kafka.* cells, so a key of only
// those columns would make every event replace the last row; their key cells are filled with
// UUIDv7s instead, and every event is a row of the table.
func TestKafkaOnlyPrimaryKeyOnHTTPSource(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.task(t, "POST", "/v1/branches/default/sources", `{"name":"Shop","type":"http"}`)
	const events = 5
	e.task(t, "PATCH", shop+"/settings", fmt.Sprintf(`{"settings":[
		{"key":"storage.level.staging.upload.trigger.count","value":%d},
		{"key":"storage.level.target.import.trigger.count","value":%d}]}`, events, events))
	e.task(t, "POST", shop+"/sinks", `{"name":"Orders","table":{"type":"keboola","tableId":"in.c-shop.orders","mapping":{"columns":[
		{"type":"kafka.partition","name":"partition","primaryKey":true},{"type":"kafka.offset","name":"offset","primaryKey":true},
		{"type":"path","name":"n","path":"n"}]}}}`)
	var src struct{ HTTP struct{ URL string } }
	e.getJSON(t, shop, 200, &src)
	for i := range events {
		post(t, src.HTTP.URL, "application/json", fmt.Sprintf(`{"n":%d}`, i), false, 200)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows := e.tableRows(t, "in.c-shop.orders")
		if len(rows) == events {
			for _, r := range rows {
				cells := strings.Split(r, ",")
				if len(cells[0]) != 36 || len(cells[1]) != 36 || cells[0] == cells[1] {
					t.Fatalf("row %q: want a UUIDv7 in each key cell", r)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("table has %d rows, want %d: %q", len(rows), events, rows)
		}
		time.Sleep(20 * time.Millisecond) // polling the emulator's table file
	}
}

// TestAggregation lists the branch's sources with their sinks and statistics.
func TestAggregation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.task(t, "POST", "/v1/branches/default/sources", `{"name":"Shop","type":"http"}`)
	e.task(t, "POST", shop+"/sinks", ordersSink("Orders"))
	e.task(t, "POST", "/v1/branches/default/sources", `{"name":"Blog","type":"http"}`)
	var agg struct {
		ProjectID, BranchID int
		Page                struct{ TotalCount int }
		Sources             []struct {
			SourceID string
			Sinks    []struct {
				SinkID     string
				Statistics *struct {
					Total struct{ RecordsCount *int }
					Files []json.RawMessage
				}
			}
		}
	}
	e.getJSON(t, "/v1/branches/default/aggregation/sources?"+url.Values{"limit": {"10"}}.Encode(), 200, &agg)
	if agg.ProjectID != 1 || agg.BranchID != 1 || agg.Page.TotalCount != 2 || len(agg.Sources) != 2 {
		t.Fatalf("aggregation: %+v", agg)
	}
	blog, shopAgg := agg.Sources[0], agg.Sources[1]
	if blog.SourceID != "blog" || len(blog.Sinks) != 0 || shopAgg.SourceID != "shop" || len(shopAgg.Sinks) != 1 {
		t.Fatalf("sources: %+v", agg.Sources)
	}
	st := shopAgg.Sinks[0].Statistics
	if st == nil || st.Total.RecordsCount == nil || *st.Total.RecordsCount != 0 || len(st.Files) != 1 {
		t.Fatalf("statistics: %+v", st)
	}
}

// sharedTasks is a SharedTasks every replica of a test sees alike; member names the replica.
type sharedTasks struct {
	mu     *sync.Mutex
	tasks  map[string]map[string][]byte // id → member → data
	member string
}

func newSharedTasks() sharedTasks {
	return sharedTasks{mu: &sync.Mutex{}, tasks: map[string]map[string][]byte{}}
}

func (s sharedTasks) as(member string) sharedTasks { s.member = member; return s }

func (s sharedTasks) Publish(_ context.Context, id string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil {
		delete(s.tasks[id], s.member)
		return nil
	}
	if s.tasks[id] == nil {
		s.tasks[id] = map[string][]byte{}
	}
	s.tasks[id][s.member] = data
	return nil
}

func (s sharedTasks) Lookup(_ context.Context, id string) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.tasks[id])), nil
}

// TestTasksSharedAcrossReplicas: a task one replica answered is polled on another, under
// /v1/tasks and under its source's path; a task that expired on the replica that ran it is
// removed for all.
func TestTasksSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	shared := newSharedTasks()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	a := newEnv(t, false, func(_ *streamapi.Config, d *streamapi.Deps) { d.SharedTasks, d.Now = shared.as("a"), now })
	b := &env{t: t, apiCfg: a.apiCfg, apiDeps: a.apiDeps}
	b.apiDeps.DataDir, b.apiDeps.SharedTasks = t.TempDir(), shared.as("b")
	b.startAPI()

	created := a.task(t, "POST", "/v1/branches/default/sources", `{"name":"Shop","type":"http"}`)
	for _, path := range []string{"/v1/tasks/" + created.TaskID, shop + "/tasks/" + created.TaskID} {
		var got taskJSON
		b.getJSON(t, path, 200, &got)
		if got != created {
			t.Fatalf("replica b: GET %s: %+v, want %+v", path, got, created)
		}
	}
	b.call(t, "GET", "/v1/branches/default/sources/other/tasks/"+created.TaskID, "", 404)
	b.call(t, "GET", "/v1/tasks/api.create.source/1/shop/nosuchtask", "", 404)

	clock.Add(int64(2 * time.Hour)) // past the TTL: a's next task removes the first for all
	a.task(t, "POST", "/v1/branches/default/sources", `{"name":"Other","type":"http"}`)
	b.call(t, "GET", "/v1/tasks/"+created.TaskID, "", 404)
	if found, _ := shared.Lookup(context.Background(), created.TaskID); len(found) != 0 {
		t.Fatalf("the expired task is still shared: %s", found)
	}
}
