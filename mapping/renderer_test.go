package mapping_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/mapping"
)

func compile(t *testing.T, columns string, cfg mapping.Config) *mapping.Mapping {
	t.Helper()
	cols, err := mapping.DecodeColumns([]byte(columns))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Compile(cols, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonEvent(body string) mapping.Event {
	return mapping.Event{Body: []byte(body), Header: http.Header{"Content-Type": {"application/json"}}}
}

// A batch with bad events in it renders every good event, and each bad one fails with its own
// reason, whether a native failed (missing path) or Jsonnet did (error, type error).
func TestRenderBatchIsolatesFailures(t *testing.T) {
	t.Parallel()
	m := compile(t, `[{"type":"path","name":"n","path":"n"},
		{"type":"template","name":"t","template":{"language":"jsonnet",
		 "content":"if Body('n') == 13 then error 'unlucky' else Body('n') * 2"}}]`, mapping.Config{TemplateBatchSize: 16})
	r := m.NewRenderer()
	var events []mapping.Event
	for i := range 100 {
		switch {
		case i%31 == 7:
			events = append(events, jsonEvent(`{"x":1}`))
		case i%29 == 3:
			events = append(events, jsonEvent(`{"n":"text"}`))
		default:
			events = append(events, jsonEvent(fmt.Sprintf(`{"n":%d}`, i)))
		}
	}
	var rows mapping.Rows
	r.RenderBatch(events, &rows)
	if rows.Len() != len(events) {
		t.Fatalf("got %d rows, want %d", rows.Len(), len(events))
	}
	var good strings.Builder
	for i := range events {
		var want string
		switch {
		case i%31 == 7:
			want = `invalid value for column "n": path "n" not found in the body` // the first column fails first
		case i%29 == 3:
			want = `invalid value for column "t": template failed: Unexpected type string, expected number`
		case i == 13:
			want = `invalid value for column "t": template failed: unlucky`
		}
		if want != "" {
			if err := rows.Err(i); err == nil || err.Error() != want {
				t.Errorf("event %d: error %v, want %s", i, err, want)
			}
			if len(rows.Row(i)) != 0 {
				t.Errorf("event %d failed but has a row %q", i, rows.Row(i))
			}
			continue
		}
		row := fmt.Sprintf("\"%d\",\"%d\"\n", i, 2*i)
		good.WriteString(row)
		if rows.Err(i) != nil || string(rows.Row(i)) != row {
			t.Errorf("event %d: row %q, error %v; want %q", i, rows.Row(i), rows.Err(i), row)
		}
	}
	if string(rows.Bytes()) != good.String() {
		t.Errorf("Bytes() is not the good rows in order")
	}
}

// The slow template of TestTemplateTimeout: it spins when the event asks it to.
const spinTemplate = `[{"type":"template","name":"slow","template":{"language":"jsonnet",
	"content":"if Body('spin') then std.foldl(function(acc, x) acc + x, std.range(1, 400000), 0) else 'fast'"}}]`

// The slow template of TestTemplateTimeout, in a worker: it spins for seconds in little memory,
// so a loaded machine still tells it from the fast events well within the limit.
const longSpinTemplate = `[{"type":"template","name":"slow","template":{"language":"jsonnet",
	"content":"if Body('spin') then std.foldl(function(a, i) a + std.foldl(function(b, j) b + j, std.range(1, 1000), 0), std.range(1, 20000), 0) else 'fast'"}}]`

// A template that runs past the time limit fails its own event only; the renderer goes on.
// Evaluated in a worker, the evaluation is stopped: nothing keeps running.
func TestTemplateTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	m := compile(t, longSpinTemplate, mapping.Config{TemplateTimeout: time.Second})
	r := m.NewRenderer()
	events := []mapping.Event{jsonEvent(`{"spin":false}`), jsonEvent(`{"spin":true}`), jsonEvent(`{"spin":false}`)}
	var rows mapping.Rows
	r.RenderBatch(events, &rows)
	if err := rows.Err(1); !errors.Is(err, mapping.ErrTemplate) || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("slow event: error %v, want a timeout", err)
	}
	for _, i := range []int{0, 2} {
		if string(rows.Row(i)) != "\"\"\"fast\"\"\"\n" {
			t.Fatalf("event %d: row %q, error %v", i, rows.Row(i), rows.Err(i))
		}
	}
	if m.TemplateTimeouts() < 1 {
		t.Fatalf("TemplateTimeouts() = %d, want at least 1", m.TemplateTimeouts())
	}
	row, err := r.AppendRow(nil, &events[0])
	if err != nil || string(row) != "\"\"\"fast\"\"\"\n" {
		t.Fatalf("after a timeout: row %q, error %v", row, err)
	}
	if m.AbandonedEvaluations() != 0 {
		t.Fatalf("%d evaluations still running, want them stopped", m.AbandonedEvaluations())
	}
}

// Without workers, an evaluation past its time limit is abandoned and finishes on its own;
// past MaxAbandoned of them, that mapping's templates fail at once, and only that mapping's.
func TestTemplateTimeoutInProcess(t *testing.T) {
	// The abandoned evaluation keeps running until it ends on its own: that is the design.
	defer goleak.VerifyNone(t, goleak.IgnoreAnyFunction("github.com/kbridge/kbridge/mapping.(*engine).evaluateHere.func1"))
	m := compile(t, spinTemplate, mapping.InProcess(mapping.Config{TemplateTimeout: 100 * time.Millisecond}))
	other := compile(t, `[{"type":"template","name":"t","template":{"language":"jsonnet","content":"local x = Body('n'); x * 2"}}]`,
		mapping.InProcess(mapping.Config{}))
	r := m.NewRenderer()
	events := []mapping.Event{jsonEvent(`{"spin":false}`), jsonEvent(`{"spin":true}`)}
	if _, err := r.AppendRow(nil, &events[1]); !errors.Is(err, mapping.ErrTemplate) || !strings.Contains(err.Error(), "timed out after 100ms") {
		t.Fatalf("slow event: error %v, want a timeout", err)
	}
	for m.AbandonedEvaluations() < mapping.MaxAbandoned {
		r.AppendRow(nil, &events[1])
	}
	_, err := r.AppendRow(nil, &events[0])
	if err == nil || !strings.Contains(err.Error(), "ran past the time limit are still running") {
		t.Fatalf("with %d runaway evaluations: %v", m.AbandonedEvaluations(), err)
	}
	if row, err := other.NewRenderer().AppendRow(nil, ptr(jsonEvent(`{"n":21}`))); err != nil || string(row) != "\"42\"\n" {
		t.Fatalf("another mapping while %d runaways run: row %q, error %v", m.AbandonedEvaluations(), row, err)
	}
	waitFor(t, time.Minute, func() bool { return m.AbandonedEvaluations() == 0 })
	if _, err := r.AppendRow(nil, &events[0]); err != nil {
		t.Fatalf("once the runaways ended: %v", err)
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
	}
}

func TestTemplateOutputLimit(t *testing.T) {
	t.Parallel()
	m := compile(t, `[{"type":"template","name":"big","template":{"language":"jsonnet",
		"content":"std.join('', std.makeArray(Body('n'), function(i) 'x'))"}}]`, mapping.Config{TemplateMaxOutput: 1024})
	r := m.NewRenderer()
	if _, err := r.AppendRow(nil, ptr(jsonEvent(`{"n":1000}`))); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
	_, err := r.AppendRow(nil, ptr(jsonEvent(`{"n":2000}`)))
	want := `invalid value for column "big": template failed: output of 2002 bytes exceeds the limit of 1024 bytes`
	if err == nil || err.Error() != want {
		t.Fatalf("over the limit: %v, want %s", err, want)
	}
}

// One Mapping serves many goroutines, each with its own Renderer (run with -race).
func TestConcurrentRenderers(t *testing.T) {
	t.Parallel()
	m := compile(t, `[{"type":"path","name":"n","path":"n"},{"type":"template","name":"t",
		"template":{"language":"jsonnet","content":"Body('n') + 1"}}]`, mapping.Config{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := m.NewRenderer()
			var rows mapping.Rows
			events := make([]mapping.Event, 50)
			for i := range events {
				events[i] = jsonEvent(fmt.Sprintf(`{"n":%d}`, g*1000+i))
			}
			for range 5 {
				r.RenderBatch(events, &rows)
				for i := range events {
					n := g*1000 + i
					if want := fmt.Sprintf("\"%d\",\"%d\"\n", n, n+1); string(rows.Row(i)) != want {
						t.Errorf("goroutine %d event %d: %q, want %q", g, i, rows.Row(i), want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestValues(t *testing.T) {
	t.Parallel()
	m := compile(t, `[{"type":"path","name":"a","path":"a"},{"type":"body","name":"b"}]`, mapping.Config{})
	values, err := m.NewRenderer().Values(ptr(jsonEvent(`{"a":"x,\"y\""}`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%q", values); got != `["\"x,\\\"y\\\"\"" "{\"a\":\"x,\\\"y\\\"\"}"]` {
		t.Fatalf("values %s", got)
	}
}

func TestUUIDsAreV7AndOrdered(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	m := compile(t, `[{"type":"id","name":"id"}]`, mapping.Config{Now: func() time.Time { return now }})
	r := m.NewRenderer()
	prev := ""
	seen := map[string]bool{}
	for range 1000 {
		row, err := r.AppendRow(nil, ptr(jsonEvent(`{}`)))
		if err != nil {
			t.Fatal(err)
		}
		id := strings.Trim(string(row), "\"\n")
		ms := fmt.Sprintf("%012x", now.UnixMilli())
		if !matchRow("<uuid>", id) || !strings.HasPrefix(id, ms[:8]+"-"+ms[8:]+"-7") {
			t.Fatalf("%q is not a UUIDv7 of %s", id, now)
		}
		if seen[id] || id <= prev {
			t.Fatalf("%q after %q: not unique and increasing within one millisecond", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestPrimaryKeyAndNames(t *testing.T) {
	t.Parallel()
	m := compile(t, `{"columns":[{"type":"kafka.topic","name":"t","primaryKey":true},{"type":"body","name":"b"},
		{"type":"kafka.offset","name":"o","primaryKey":true}]}`, mapping.Config{})
	if got := fmt.Sprint(m.PrimaryKey(), m.Names()); got != "[t o] [t b o]" {
		t.Fatalf("PrimaryKey, Names = %s", got)
	}
	if c := m.Columns(); len(c) != 3 || !c[0].PrimaryKey || c[1].Type != mapping.KindBody {
		t.Fatalf("Columns() = %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  mapping.Config
		want string
	}{
		{mapping.Config{}, ""},
		{mapping.Config{TemplateTimeout: time.Hour}, "templateTimeout: must be between 1ms and 1m, got 1h0m0s"},
		{mapping.Config{TemplateMaxStack: 5}, "templateMaxStack: must be between 10 and 10000, got 5"},
		{mapping.Config{TemplateMaxOutput: 10}, "templateMaxOutput: must be between 1KiB and 64MiB, got 10"},
		{mapping.Config{TemplateBatchSize: -1}, "templateBatchSize: must be between 1 and 10000, got -1"},
	} {
		err := tc.cfg.Validate()
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	cols := []mapping.Column{{Type: mapping.KindBody, Name: "b"}}
	if _, err := mapping.Compile(cols, mapping.Config{TemplateBatchSize: 20000}); err == nil {
		t.Fatal("Compile accepted a bad config")
	}
	many := make([]mapping.Column, 101)
	for i := range many {
		many[i] = mapping.Column{Type: mapping.KindBody, Name: fmt.Sprint("c", i)}
	}
	if _, err := mapping.Compile(many, mapping.Config{}); err == nil || err.Error() != "a mapping needs 1 to 100 columns, got 101" {
		t.Fatalf("101 columns: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestJSONDepthLimit(t *testing.T) {
	t.Parallel()
	m := compile(t, `[{"type":"path","name":"a","path":"a"}]`, mapping.Config{})
	r := m.NewRenderer()
	nested := func(depth int) *mapping.Event {
		inner := strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1)
		return ptr(jsonEvent(`{"a":` + inner + `}`))
	}
	if _, err := r.AppendRow(nil, nested(mapping.MaxJSONDepth)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := r.AppendRow(nil, nested(mapping.MaxJSONDepth+1))
	if !errors.Is(err, mapping.ErrInvalidBody) || !strings.Contains(err.Error(), "nested deeper than 1000 levels") {
		t.Fatalf("over the limit: %v", err)
	}
	// Brackets inside strings do not count.
	if _, err := r.AppendRow(nil, ptr(jsonEvent(`{"a":"`+strings.Repeat("[", 5000)+`"}`))); err != nil {
		t.Fatalf("brackets in a string: %v", err)
	}
}

// A string expression that falls back to Jsonnet for an event must not leave that event's cells
// pointing into text of an earlier render: a long string value followed, with the same
// renderer, by a number in the same place used to index past the end of the buffer.
func TestStringExprFallbackAfterLongValue(t *testing.T) {
	t.Parallel()
	m := compile(t, `[{"type":"template","name":"t","rawString":true,
		"template":{"language":"jsonnet","content":"Body('a') + '-' + Body('b')"}}]`, mapping.Config{})
	long := strings.Repeat("x", 300)
	first, second := jsonEvent(`{"a":"`+long+`","b":"y"}`), jsonEvent(`{"a":5,"b":"y"}`)

	r := m.NewRenderer()
	for _, c := range []struct {
		ev   mapping.Event
		want string
	}{{first, `"` + long + `-y"` + "\n"}, {second, `"5-y"` + "\n"}} {
		row, err := r.AppendRow(nil, &c.ev)
		if err != nil || string(row) != c.want {
			t.Fatalf("row %q (%v), want %q", row, err, c.want)
		}
	}

	// In one batch, the fallback event between and after long ones.
	var rows mapping.Rows
	r.RenderBatch([]mapping.Event{first, second, first, second}, &rows)
	for i, want := range []string{long + "-y", "5-y", long + "-y", "5-y"} {
		if rows.Err(i) != nil || string(rows.Row(i)) != `"`+want+`"`+"\n" {
			t.Fatalf("batch row %d: %q (%v), want %q", i, rows.Row(i), rows.Err(i), want)
		}
	}
}
