package sink_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

// sinkToken is the token the manager stored with the sink.
func sinkToken(t *testing.T, m *sink.Manager, k sink.SinkKey) *sink.SinkToken {
	t.Helper()
	defs, err := m.Sinks(k.SourceKey)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(defs, func(d sink.Sink) bool { return d.Key == k })
	if i < 0 {
		t.Fatalf("sink %s not found", k)
	}
	return defs[i].Token
}

// tokenClient is a Storage client with the token.
func (e *env) tokenClient(secret string) *storageapi.Client {
	cfg := (&emulatortest.Server{URL: e.em.url}).Config(secret)
	cfg.Retry.MaxAttempts = 1
	return emulatortest.Client(e.t, cfg)
}

// TestSinkToken: a sink gets its own token when it is created: write access to its table's
// bucket only, described as Keboola describes it; the sink's imports run with it; the emulator
// refuses it on another bucket; deleting the sink deletes the token.
func TestSinkToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(syncEachBatch, "target.import.trigger.count", 20), "in.c-tok.events")
	tok := sinkToken(t, m, sinkKey(0))
	if tok == nil || tok.Secret == "" || tok.BucketID != "in.c-tok" {
		t.Fatalf("sink token = %+v", tok)
	}
	ctx := ctxT(t, 20*time.Second)
	c := e.tokenClient(tok.Secret)
	info, err := c.VerifyToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Description != "[_internal] Stream Sink events/sink-0" || info.IsMasterToken || info.CanManageBuckets ||
		len(info.BucketPermissions) != 1 || info.BucketPermissions["in.c-tok"] != "write" {
		t.Fatalf("sink token = %+v, want write on in.c-tok only", info)
	}

	ws := writeBatches(t, m, 0, 40, 20)
	e.eventually("imported", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
	checkTable(t, e, "in.c-tok.events", 40)
	jobs, err := newClient(t, e.em.url).ListJobs(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	imports := 0
	for _, j := range jobs {
		if j.OperationName == "tableImport" {
			imports++
			if j.CreatorToken.ID != tok.ID {
				t.Fatalf("import job %d ran with token %s, want the sink's %s", j.ID, j.CreatorToken.ID, tok.ID)
			}
		}
	}
	if imports == 0 {
		t.Fatal("no import job")
	}

	master := newClient(t, e.em.url)
	if _, err := master.CreateBucket(ctx, storageapi.CreateBucketRequest{Stage: "in", Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := master.CreateTable(ctx, "in.c-other", storageapi.CreateTableRequest{Name: "t", Columns: []string{"id"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable(ctx, "in.c-other", storageapi.CreateTableRequest{Name: "x", Columns: []string{"id"}}); !errors.Is(err, storageapi.ErrForbidden) {
		t.Fatalf("the sink token creating a table in another bucket: %v, want 403", err)
	}
	if _, err := c.ImportFile(ctx, "in.c-other.t", 1, storageapi.ImportOptions{}); !errors.Is(err, storageapi.ErrForbidden) {
		t.Fatalf("the sink token importing into another bucket: %v, want 403", err)
	}
	if _, err := c.CreateBucket(ctx, storageapi.CreateBucketRequest{Stage: "in", Name: "new"}); !errors.Is(err, storageapi.ErrForbidden) {
		t.Fatalf("the sink token creating a bucket: %v, want 403", err)
	}

	if err := m.DeleteSink(sinkKey(0), sink.System); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyToken(ctx); !errors.Is(err, storageapi.ErrUnauthorized) {
		t.Fatalf("the deleted sink's token: %v, want 401", err)
	}
	if err := m.UndeleteSink(sinkKey(0), sink.System); err != nil {
		t.Fatal(err)
	}
	again := sinkToken(t, m, sinkKey(0))
	if again == nil || again.ID == tok.ID {
		t.Fatalf("undeleted sink token = %+v, want a new one", again)
	}
	if info, err := e.tokenClient(again.Secret).VerifyToken(ctx); err != nil || info.BucketPermissions["in.c-tok"] != "write" {
		t.Fatalf("the undeleted sink's token: %+v, %v", info, err)
	}
}

// TestSinkTokenRefreshedByDisableEnable: disabling a sink deletes its token, enabling it
// creates a new one ("To refresh a token, you can disable and re-enable the sink"), and the
// sink imports with the new token.
func TestSinkTokenRefreshedByDisableEnable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(syncEachBatch, "target.import.trigger.count", 10), "in.c-ref.events")
	ctx := ctxT(t, 20*time.Second)
	first := sinkToken(t, m, sinkKey(0))
	defs, _ := m.Sinks(sourceKey)
	def := defs[0]
	def.Disabled = true
	if err := m.PutSink(def); err != nil {
		t.Fatal(err)
	}
	if tok := sinkToken(t, m, sinkKey(0)); tok != nil {
		t.Fatalf("a disabled sink keeps a token: %+v", tok)
	}
	if _, err := e.tokenClient(first.Secret).VerifyToken(ctx); !errors.Is(err, storageapi.ErrUnauthorized) {
		t.Fatalf("the disabled sink's token: %v, want 401", err)
	}
	def.Disabled = false
	if err := m.PutSink(def); err != nil {
		t.Fatal(err)
	}
	second := sinkToken(t, m, sinkKey(0))
	if second == nil || second.ID == first.ID || second.Secret == first.Secret {
		t.Fatalf("re-enabled sink token = %+v, want a new one (was %+v)", second, first)
	}
	if _, err := e.tokenClient(second.Secret).VerifyToken(ctx); err != nil {
		t.Fatal(err)
	}
	ws := writeBatches(t, m, 0, 10, 10)
	e.eventually("imported", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
	checkTable(t, e, "in.c-ref.events", 10)
	if versions, _ := m.SinkVersions(sinkKey(0)); len(versions) == 0 || versions[len(versions)-1].Token != nil {
		t.Fatal("a version keeps the sink's token")
	}
}

// TestGrownMappingAddsColumns: a mapping that gains a column adds it to the table
// (tableColumnAdd) when the sink is updated, and the next rows are imported with it.
func TestGrownMappingAddsColumns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(syncEachBatch, "target.import.trigger.count", 10), "in.c-grow.events")
	ws := writeBatches(t, m, 0, 10, 10)
	e.eventually("imported", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })

	defs, _ := m.Sinks(sourceKey)
	def := defs[0]
	def.Columns = append(slices.Clone(columns), mapping.Column{Type: mapping.KindPath, Name: "extra", Path: "id", RawString: true})
	if err := m.PutSink(def); err != nil {
		t.Fatalf("grown mapping: %v", err)
	}
	tbl, err := newClient(t, e.em.url).GetTable(ctxT(t, 10*time.Second), "in.c-grow.events")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"id", "name", "value", "extra"}; !slices.Equal(tbl.Columns, want) {
		t.Fatalf("table columns = %v, want %v", tbl.Columns, want)
	}
	// Rows written right after the update may still go to the file of the old mapping, which
	// an incremental import loads with the new column empty; rows written once those are
	// imported follow the new mapping.
	ws = writeBatches(t, m, 10, 10, 10)
	e.eventually("imported after the update", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
	ws = writeBatches(t, m, 20, 10, 10)
	e.eventually("imported with the new column", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
	rows := e.em.rows(t, "in.c-grow.events")
	if len(rows) != 30 {
		t.Fatalf("%d rows, want 30: %v", len(rows), rows)
	}
	for id, r := range rows {
		n, _ := strconv.Atoi(id)
		ok := len(r) == 4 && (n < 10 && r[3] == "" || n >= 20 && r[3] == id || n >= 10 && n < 20 && (r[3] == "" || r[3] == id))
		if !ok {
			t.Fatalf("row %s = %q: want extra empty before the update and %s after it", id, r, id)
		}
	}
}

// TestStorageEvents: slice uploads and file imports write Keboola's stream events, with the
// components, messages, params and statistics of Keboola's stream service
// (keboola-as-code bridge/event_test.go), and the table carries the KBC.stream metadata.
func TestStorageEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(syncEachBatch, "staging.upload.trigger.count", 10, "target.import.trigger.count", 20), "in.c-ev.events")
	ws := writeBatches(t, m, 0, 20, 10)
	e.eventually("imported", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
	ctx := ctxT(t, 20*time.Second)
	c := newClient(t, e.em.url)
	wantParams := `{"branchId":1,"projectId":1,"sinkId":"sink-0","sourceId":"events","streamId":"1/1/events"}`
	for _, tc := range []struct {
		component, message string
		min                int
	}{{sink.EventSliceUpload, "Slice upload done.", 1}, {sink.EventFileImport, "File import done.", 1}} {
		events, err := c.ListEvents(ctx, storageapi.ListEventsRequest{Component: tc.component})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) < tc.min {
			t.Fatalf("%d %s events, want at least %d", len(events), tc.component, tc.min)
		}
		var records int64
		for _, ev := range events {
			if ev.Message != tc.message || ev.Type != "info" {
				t.Fatalf("%s event = %+v", tc.component, ev)
			}
			if got := compactJSON(t, ev.Params); got != wantParams {
				t.Fatalf("%s params = %s, want %s", tc.component, got, wantParams)
			}
			var res struct {
				Statistics map[string]any `json:"statistics"`
			}
			if err := json.Unmarshal(unquote(t, ev.Results), &res); err != nil {
				t.Fatalf("%s results %s: %v", tc.component, ev.Results, err)
			}
			for _, k := range []string{"firstRecordAt", "lastRecordAt", "recordsCount", "slicesCount", "uncompressedSize", "compressedSize", "stagingSize"} {
				if _, ok := res.Statistics[k]; !ok {
					t.Fatalf("%s statistics lack %s: %s", tc.component, k, ev.Results)
				}
			}
			if at, _ := res.Statistics["firstRecordAt"].(string); len(at) != len("2000-01-01T20:00:00.000Z") || !strings.HasSuffix(at, "Z") {
				t.Fatalf("%s firstRecordAt %q, want milliseconds in UTC", tc.component, at)
			}
			records += int64(res.Statistics["recordsCount"].(float64))
		}
		if records != 20 {
			t.Fatalf("%s events count %d records, want 20", tc.component, records)
		}
	}
	tbl, err := c.GetTable(ctx, "in.c-ev.events")
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	for _, md := range tbl.Metadata {
		if md.Provider == "stream" {
			meta[md.Key] = md.Value
		}
	}
	if meta["KBC.stream.sink.id"] != "sink-0" || meta["KBC.stream.source.id"] != "events" {
		t.Fatalf("table metadata = %+v, want KBC.stream.sink.id and KBC.stream.source.id from provider stream", tbl.Metadata)
	}
}

// TestSourceInBranchFillsItsBranchTable: a source in development branch 2 fills the table of
// branch 2 only; a source in a branch the project does not have is refused.
func TestSourceInBranchFillsItsBranchTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	ctx := ctxT(t, 30*time.Second)
	b, err := newClient(t, e.em.url).CreateBranch(ctx, "dev", "")
	if err != nil || b.ID != 2 {
		t.Fatalf("create branch = %+v, %v; want id 2", b, err)
	}
	if err := m.PutSource(sink.Source{Key: sink.SourceKey{ProjectID: 1, BranchID: 3, SourceID: "x"}, Type: "kafka", Name: "x"}); !errors.Is(err, sink.ErrBranchNotFound) {
		t.Fatalf("a source in branch 3: %v, want ErrBranchNotFound", err)
	}
	define(t, m, columns, patch(syncEachBatch, "target.import.trigger.count", 10), "in.c-br.events")
	dev := sink.SourceKey{ProjectID: 1, BranchID: 2, SourceID: "events"}
	if err := m.PutSource(sink.Source{Key: dev, Type: "kafka", Name: "events"}); err != nil {
		t.Fatal(err)
	}
	if err := m.PutSink(sink.Sink{Key: sink.SinkKey{SourceKey: dev, SinkID: "sink-0"}, Name: "sink", TableID: "in.c-br.events",
		Columns: columns, Settings: patch(syncEachBatch, "target.import.trigger.count", 10)}); err != nil {
		t.Fatal(err)
	}
	evs, pos := events(100, 10)
	w, err := m.Write(ctx, dev, evs, pos)
	if err != nil || w.Failed() != 0 {
		t.Fatalf("write into branch 2: %v", err)
	}
	e.eventually("imported in branch 2", time.Minute, func() bool { ok, _ := w.Reached(sink.LevelTarget); return ok })
	if rows := e.em.BranchRows(t, 2, "in.c-br.events"); len(rows) != 10 || rows[0][0] != "100" {
		t.Fatalf("branch 2 table = %v, want the 10 events", rows)
	}
	if rows := e.em.Rows(t, "in.c-br.events"); len(rows) != 0 {
		t.Fatalf("the default branch's table got %d rows from branch 2", len(rows))
	}
}

func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(unquote(t, raw), &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// unquote returns the JSON inside a JSON string (events keep params as given), or raw.
func unquote(t *testing.T, raw json.RawMessage) []byte {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return raw
}

// TestStorageEventOfAFailedImport: a failed import job writes keboola.stream.fileImport of type
// error, "File import failed.", with the error in the results (keboola-as-code bridge/event_test.go,
// TestBridge_SendFileImportEvent_ErrorEvent); the retry then imports the file.
func TestStorageEventOfAFailedImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(syncEachBatch, "target.import.trigger.count", 10), "in.c-evf.events")
	e.em.em.FailJobs(1, "Some columns are missing in the CSV file")
	ws := writeBatches(t, m, 0, 10, 10)
	e.eventually("imported after the failure", time.Minute, func() bool { return reached(ws, sink.LevelTarget) })
	events, err := newClient(t, e.em.url).ListEvents(ctxT(t, 10*time.Second), storageapi.ListEventsRequest{Component: sink.EventFileImport})
	if err != nil {
		t.Fatal(err)
	}
	var failed, done int
	for _, ev := range events {
		switch {
		case ev.Type == "error" && ev.Message == "File import failed." && strings.Contains(string(unquote(t, ev.Results)), "Some columns are missing in the CSV file"):
			failed++
		case ev.Type == "info" && ev.Message == "File import done.":
			done++
		default:
			t.Fatalf("unexpected event %+v", ev)
		}
	}
	if failed != 1 || done != 1 {
		t.Fatalf("%d failed and %d done import events, want 1 and 1", failed, done)
	}
}

// TestIssueMissingTokens: a live sink stored without a token (by a kbridge that made none) gets
// one at IssueMissingTokens, without a new version; a disabled sink gets none.
func TestIssueMissingTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := newManager(t, e, func(*sink.Config) {})
	stop := runUntil(t, m)
	define(t, m, columns, syncEachBatch, "in.c-miss.a", "in.c-miss.b")
	defs, _ := m.Sinks(sourceKey)
	off := defs[1]
	off.Disabled = true
	if err := m.PutSink(off); err != nil {
		t.Fatal(err)
	}
	stop()
	// Drop the tokens from the stored record, as an earlier kbridge wrote it.
	defsDir := filepath.Join(e.dir, "definitions")
	files := filesContaining(t, defsDir, `"token"`)
	if len(files) != 1 {
		t.Fatalf("definition records with a token: %v", files)
	}
	files[0] = filepath.Join(defsDir, files[0])
	var rec map[string]any
	data, err := os.ReadFile(files[0])
	if err != nil || json.Unmarshal(data, &rec) != nil {
		t.Fatalf("read %s: %v", files[0], err)
	}
	for _, def := range rec["sinks"].([]any) {
		delete(def.(map[string]any), "token")
	}
	if data, err = json.Marshal(rec); err != nil || os.WriteFile(files[0], data, 0o600) != nil {
		t.Fatal(err)
	}

	m = newManager(t, e, func(*sink.Config) {})
	run(t, m)
	if tok := sinkToken(t, m, sinkKey(0)); tok != nil {
		t.Fatalf("the record still has a token: %+v", tok)
	}
	before, _ := m.Sinks(sourceKey)
	m.IssueMissingTokens()
	tok := sinkToken(t, m, sinkKey(0))
	if tok == nil {
		t.Fatal("no token issued")
	}
	if info, err := e.tokenClient(tok.Secret).VerifyToken(ctxT(t, 10*time.Second)); err != nil || info.BucketPermissions["in.c-miss"] != "write" {
		t.Fatalf("issued token: %+v, %v", info, err)
	}
	if tok := sinkToken(t, m, sinkKey(1)); tok != nil {
		t.Fatalf("the disabled sink got a token: %+v", tok)
	}
	if after, _ := m.Sinks(sourceKey); after[0].Version != before[0].Version {
		t.Fatalf("version %d, want %d unchanged", after[0].Version, before[0].Version)
	}
}
