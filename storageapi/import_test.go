package storageapi_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

var streamImport = func(columns []string) storageapi.ImportOptions {
	return storageapi.ImportOptions{Incremental: true, WithoutHeaders: true, Columns: columns}
}

// importSlices prepares a sliced file, uploads the slices, starts an import and waits.
func importSlices(t *testing.T, c *storageapi.Client, tableID string, opts storageapi.ImportOptions, slices ...string) (*storageapi.Job, error) {
	t.Helper()
	ctx := testContext(t)
	f, err := c.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: "import", IsSliced: true, Tags: []string{"test"}})
	if err != nil {
		t.Fatal(err)
	}
	data := map[string][]byte{}
	var order []string
	for i, s := range slices {
		name := string(rune('a'+i)) + ".csv.gz"
		data[name], order = gzipped(t, s), append(order, name)
	}
	uploadSlices(t, c, f, data, order)
	job, err := c.ImportFile(ctx, tableID, f.ID, opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if job.Status != storageapi.JobStatusWaiting || job.OperationName != "tableImport" || job.TableID != tableID {
		t.Fatalf("created job = %+v", job)
	}
	return c.WaitForJob(ctx, job.ID)
}

func preview(t *testing.T, c *storageapi.Client, tableID string) string {
	t.Helper()
	data, err := c.DataPreview(testContext(t), tableID, 0)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	return string(data)
}

func TestImportSemantics(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t)
	c := newClient(t, testConfig(url, masterToken))
	setupTable(t, c, "keyed", []string{"id", "payload"}, []string{"id"})
	setupTable(t, c, "log", []string{"id", "payload"}, nil)

	// Columns in file order differ from table order; incremental upsert by primary key.
	job, err := importSlices(t, c, "in.c-shop.keyed", streamImport([]string{"payload", "id"}), "a,1\nb,2\n", "\"c,\"\"q\"\"\",3\n")
	if err != nil {
		t.Fatalf("first import: %v", err)
	}
	res, err := job.ImportResults()
	if err != nil || res.ImportedRowsCount != 3 {
		t.Fatalf("results = %+v, %v", res, err)
	}
	if _, err := importSlices(t, c, "in.c-shop.keyed", streamImport([]string{"payload", "id"}), "B,2\nd,4\n"); err != nil {
		t.Fatalf("second import: %v", err)
	}
	want := "\"id\",\"payload\"\n\"1\",\"a\"\n\"2\",\"B\"\n\"3\",\"c,\"\"q\"\"\"\n\"4\",\"d\"\n"
	if got := preview(t, c, "in.c-shop.keyed"); got != want {
		t.Fatalf("keyed table:\n%s\nwant:\n%s", got, want)
	}

	// Without a primary key rows are appended.
	for range 2 {
		if _, err := importSlices(t, c, "in.c-shop.log", streamImport([]string{"id", "payload"}), "1,x\n"); err != nil {
			t.Fatal(err)
		}
	}
	if got := preview(t, c, "in.c-shop.log"); got != "\"id\",\"payload\"\n\"1\",\"x\"\n\"1\",\"x\"\n" {
		t.Fatalf("log table:\n%s", got)
	}
	// Non-incremental replaces the table; the header row names the columns.
	if _, err := importSlices(t, c, "in.c-shop.log", storageapi.ImportOptions{}, "payload,id\nz,9\n"); err != nil {
		t.Fatal(err)
	}
	tbl, err := c.GetTable(testContext(t), "in.c-shop.log")
	if err != nil || tbl.RowsCount != 1 || tbl.LastImportDate.IsZero() {
		t.Fatalf("table after full load = %+v, %v", tbl, err)
	}
	if got := preview(t, c, "in.c-shop.log"); got != "\"id\",\"payload\"\n\"9\",\"z\"\n" {
		t.Fatalf("log after full load:\n%s", got)
	}
}

func TestImportJobErrors(t *testing.T) {
	t.Parallel()
	em, url := startEmulator(t)
	c := newClient(t, testConfig(url, masterToken))
	setupTable(t, c, "orders", []string{"id", "payload"}, []string{"id"})

	cases := map[string]struct {
		prepare func()
		opts    storageapi.ImportOptions
		slice   string
		code    string
	}{
		"unknown column": {nil, streamImport([]string{"id", "ip"}), "1,x\n", "storage.import.columnsMismatch"},
		// A full load must bring every column; an incremental one may bring a subset.
		"missing column":   {nil, storageapi.ImportOptions{WithoutHeaders: true, Columns: []string{"id"}}, "1\n", "storage.import.columnsMismatch"},
		"ragged row":       {nil, streamImport([]string{"id", "payload"}), "1,x,y\n", "storage.import.invalidCsv"},
		"injected failure": {func() { em.FailJobs(1, "disk full") }, streamImport([]string{"id", "payload"}), "1,x\n", "storage.emulator.injectedFailure"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { // sequential: FailJobs affects the next job of the emulator
			if tc.prepare != nil {
				tc.prepare()
			}
			job, err := importSlices(t, c, "in.c-shop.orders", tc.opts, tc.slice)
			var jobErr *storageapi.JobError
			if !errors.Is(err, storageapi.ErrJobFailed) || !errors.As(err, &jobErr) {
				t.Fatalf("import = %v, want a JobError", err)
			}
			if jobErr.Code != tc.code || jobErr.Message == "" || jobErr.ExceptionID == "" || job.Status != storageapi.JobStatusError {
				t.Fatalf("job error = %+v (job %+v), want code %s", jobErr, job, tc.code)
			}
		})
	}
	if got := preview(t, c, "in.c-shop.orders"); got != "\"id\",\"payload\"\n" {
		t.Fatalf("failed imports changed the table:\n%s", got)
	}
}

// TestImportCrashSafe: the job id is known before waiting; a new client (after a
// "crash") polls the same job and the rows land exactly once.
func TestImportCrashSafe(t *testing.T) {
	t.Parallel()
	em, url := startEmulator(t, func(c *emulator.Config) { c.JobDelay = 100 * time.Millisecond })
	first := newClient(t, testConfig(url, masterToken))
	setupTable(t, first, "events", []string{"id", "payload"}, nil) // no primary key: a second import would duplicate
	ctx := testContext(t)
	f, err := first.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: "crash", IsSliced: true})
	if err != nil {
		t.Fatal(err)
	}
	uploadSlices(t, first, f, map[string][]byte{"s.gz": gzipped(t, "1,a\n2,b\n")}, []string{"s.gz"})
	em.SlowJobs(100 * time.Millisecond)
	job, err := first.ImportFile(ctx, "in.c-shop.events", f.ID, streamImport([]string{"id", "payload"}))
	if err != nil {
		t.Fatal(err)
	}
	persistedJobID := job.ID

	// The first client gives up while the job runs.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = first.WaitForJob(short, persistedJobID)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with a short deadline = %v, want deadline exceeded", err)
	}

	second := newClient(t, testConfig(url, masterToken))
	done, err := second.WaitForJob(ctx, persistedJobID)
	if err != nil || done.Status != storageapi.JobStatusSuccess {
		t.Fatalf("re-poll = %+v, %v", done, err)
	}
	// Polling a finished job again is harmless too.
	if again, err := second.WaitForJob(ctx, persistedJobID); err != nil || again.Status != storageapi.JobStatusSuccess {
		t.Fatalf("second re-poll = %+v, %v", again, err)
	}
	if got := preview(t, second, "in.c-shop.events"); got != "\"id\",\"payload\"\n\"1\",\"a\"\n\"2\",\"b\"\n" {
		t.Fatalf("rows after crash-safe import:\n%s", got)
	}
	if n := em.Calls("importTable"); n != 1 {
		t.Fatalf("import-async called %d times, want 1", n)
	}
	_, err = second.GetJob(ctx, 999999)
	if !errors.Is(err, storageapi.ErrNotFound) {
		t.Fatalf("unknown job = %v, want ErrNotFound", err)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t)
	ctx := testContext(t)
	c := newClient(t, testConfig(url, masterToken))
	setupTable(t, c, "orders", []string{"id"}, nil)
	if _, err := importSlices(t, c, "in.c-shop.orders", streamImport([]string{"id"}), "1\n"); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateEvent(ctx, storageapi.CreateEventRequest{
		Component: "keboola.stream.fileImport", Message: "File import done.", Duration: 1.5,
		Params:  map[string]any{"sinkId": "sink1"},
		Results: map[string]any{"statistics": map[string]any{"recordsCount": 1}},
	})
	if err != nil || created.ID == "" || created.UUID == "" {
		t.Fatalf("create event = %+v, %v", created, err)
	}
	events, err := c.ListEvents(ctx, storageapi.ListEventsRequest{Component: "keboola.stream.fileImport"})
	if err != nil || len(events) != 1 || events[0].ID != created.ID || events[0].Type != storageapi.EventInfo {
		t.Fatalf("list events = %+v, %v", events, err)
	}
	if !strings.Contains(string(events[0].Results), `"recordsCount":1`) || !strings.Contains(string(events[0].Params), `"sinkId":"sink1"`) {
		t.Fatalf("event params/results = %s / %s", events[0].Params, events[0].Results)
	}
	tableEvents, err := c.ListTableEvents(ctx, "in.c-shop.orders", storageapi.ListEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range tableEvents {
		names = append(names, e.Event)
	}
	if !slices.Equal(names, []string{"storage.tableImportDone", "storage.tableCreated"}) {
		t.Fatalf("table events (newest first) = %v", names)
	}
	_, err = c.CreateEvent(ctx, storageapi.CreateEventRequest{Component: "x"})
	if !errors.Is(err, storageapi.ErrInvalidRequest) {
		t.Fatalf("event without message = %v, want ErrInvalidRequest", err)
	}
}
