package streamapi_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi"
)

// TestSinkOnTableWithOtherColumnsIs400: creating a sink on an existing table whose columns
// differ from the mapping is answered 400 naming the columns (Keboola's "columns of the table
// do not match"), and no sink is created; the same sink on a matching table is created.
func TestSinkOnTableWithOtherColumnsIs400(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	c := storageClient(t, e.emURL)
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, storageapi.CreateBucketRequest{Stage: "in", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable(ctx, "in.c-web", storageapi.CreateTableRequest{Name: "clicks", Columns: []string{"id", "referrer"}, PrimaryKey: []string{"id"}}); err != nil {
		t.Fatal(err)
	}
	e.call(t, "POST", "/v1/branches/default/sources", `{"name":"Web","type":"http"}`, 202)
	sinkBody := func(table string) string {
		return `{"name":"Clicks","table":{"type":"keboola","tableId":"` + table + `","mapping":{"columns":[
			{"type":"path","name":"id","path":"id","rawString":true,"primaryKey":true},
			{"type":"path","name":"page","path":"page","rawString":true}]}}}`
	}
	body := string(e.call(t, "POST", "/v1/branches/default/sources/web/sinks", sinkBody("in.c-web.clicks"), 400))
	for _, want := range []string{`"stream.api.badRequest"`, "in.c-web.clicks", "missing columns [page]", "unexpected columns [referrer]"} {
		if !strings.Contains(body, want) {
			t.Fatalf("answer %s lacks %s", body, want)
		}
	}
	e.call(t, "GET", "/v1/branches/default/sources/web/sinks/clicks", "", 404)
	e.call(t, "POST", "/v1/branches/default/sources/web/sinks", sinkBody("in.c-web.pages"), 202)
	tbl, err := c.GetTable(ctx, "in.c-web.pages")
	if err != nil {
		t.Fatalf("the table is created with the sink: %v", err)
	}
	if strings.Join(tbl.Columns, ",") != "id,page" || strings.Join(tbl.PrimaryKey, ",") != "id" {
		t.Fatalf("created table: %v, primary key %v", tbl.Columns, tbl.PrimaryKey)
	}
}

// TestBranchPaths: a branch the Storage project does not have is a 404 on every branch path;
// a source created in a development branch fills that branch's table, not the default one's.
func TestBranchPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	body := string(e.call(t, "GET", "/v1/branches/7/sources", "", 404))
	if !strings.Contains(body, "stream.api.branchNotFound") {
		t.Fatalf("unknown branch: %s", body)
	}
	e.call(t, "POST", "/v1/branches/7/sources", `{"name":"Web","type":"http"}`, 404)
	b, err := storageClient(t, e.emURL).CreateBranch(t.Context(), "dev", "")
	if err != nil || b.ID != 2 {
		t.Fatalf("create branch: %+v, %v", b, err)
	}
	e.call(t, "POST", "/v1/branches/2/sources", `{"name":"Web","type":"http"}`, 202)
	e.call(t, "PATCH", "/v1/branches/2/sources/web/settings", `{"settings":[
		{"key":"storage.level.staging.upload.trigger.count","value":1},{"key":"storage.level.target.import.trigger.count","value":1}]}`, 202)
	e.call(t, "POST", "/v1/branches/2/sources/web/sinks", `{"name":"Clicks","table":{"type":"keboola","tableId":"in.c-web.clicks",
		"mapping":{"columns":[{"type":"path","name":"id","path":"id","rawString":true}]}}}`, 202)
	e.call(t, "GET", "/v1/branches/default/sources/web", "", 404)
	var src struct{ HTTP struct{ URL string } }
	if err := json.Unmarshal(e.call(t, "GET", "/v1/branches/2/sources/web", "", 200), &src); err != nil {
		t.Fatal(err)
	}
	post(t, src.HTTP.URL, "application/json", `{"id":"in-branch-2"}`, false, 200)
	deadline := time.Now().Add(30 * time.Second)
	for len(e.branchRows(t, 2, "in.c-web.clicks")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("branch 2's table got no row")
		}
		time.Sleep(20 * time.Millisecond) // polling the emulator's table file
	}
	if rows := e.branchRows(t, 2, "in.c-web.clicks"); strings.Join(rows, "|") != "in-branch-2" {
		t.Fatalf("branch 2 rows = %q", rows)
	}
	if rows := e.tableRows(t, "in.c-web.clicks"); len(rows) != 0 {
		t.Fatalf("the default branch's table got %q", rows)
	}
}

// branchRows are the rows of a table of a development branch (tableRows of the emulator's
// file of that branch).
func (e *env) branchRows(t *testing.T, branch int, tableID string) []string {
	return e.tableRows(t, strconv.Itoa(branch)+"/"+tableID)
}
