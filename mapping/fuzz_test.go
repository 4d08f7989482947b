package mapping_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/mapping"
)

const fuzzColumns = `[
  {"type":"id","name":"id"},
  {"type":"path","name":"a","path":"a"},
  {"type":"path","name":"b","path":"b.c[0]","defaultValue":"d","rawString":true},
  {"type":"path","name":"all","path":""},
  {"type":"body","name":"body"},
  {"type":"headers","name":"headers"},
  {"type":"kafka.headers","name":"kh"},
  {"type":"kafka.key","name":"key"},
  {"type":"template","name":"t","rawString":true,"template":{"language":"jsonnet",
   "content":"std.toString(Body('a', null)) + Header('X-A', '') + std.toString(Body('b', {}))"}}
]`

// exprColumns has a template that compiles to a string expression: events whose values are
// strings render in Go, the others fall back to Jsonnet, so the fuzzer runs both paths and the
// switch between them on one renderer.
const exprColumns = `[
  {"type":"id","name":"id"},
  {"type":"template","name":"t","rawString":true,"template":{"language":"jsonnet",
   "content":"Body('a') + '-' + Body('b', 'none') + Header('X-A', '')"}},
  {"type":"template","name":"u","template":{"language":"jsonnet","content":"Body('b', 'zero')"}}
]`

// FuzzRender: no input panics; a failure is a *ColumnError; a row is one CSV record with a field
// per column; rendering alone and in a batch agree.
func FuzzRender(f *testing.F) {
	for _, seed := range []struct {
		body, contentType string
		kafka             bool
	}{
		{`{"a":1,"b":{"c":["x"]}}`, "application/json", false},
		{`{"a":"q\"uo,te\n","b":{}}`, "application/json; charset=utf-8", false},
		{`a=1&b=2&b=3`, "application/x-www-form-urlencoded", false},
		{`[[[[]]]]`, "application/vnd.x+json", false},
		{`{"a":12345678901234567890}`, "text/plain", true},
		{"\xff\xfe", "application/json", true},
		{`{"a":"\ud83d"}`, "application/json", false},
		{`{"a":"` + strings.Repeat("x", 300) + `","b":"y"}`, "application/json", false},
		{`{"a":5,"b":"y"}`, "application/json", false},
		{`{"a":"s","b":[1,{"c":null}]}`, "application/json", true},
		{`a=1&b[]=2&b[]=3`, "application/x-www-form-urlencoded", false},
	} {
		f.Add([]byte(seed.body), seed.contentType, seed.kafka, "k\"ey", "X-A")
	}
	var renderers []*mapping.Renderer
	var widths []int
	for _, columns := range []string{fuzzColumns, exprColumns} {
		cols, err := mapping.DecodeColumns([]byte(columns))
		if err != nil {
			f.Fatal(err)
		}
		m, err := mapping.Compile(cols, mapping.Config{})
		if err != nil {
			f.Fatal(err)
		}
		renderers, widths = append(renderers, m.NewRenderer()), append(widths, len(cols))
	}
	var rows mapping.Rows
	f.Fuzz(func(t *testing.T, body []byte, contentType string, kafka bool, key, headerValue string) {
		ev := mapping.Event{Body: body, Header: http.Header{"Content-Type": {contentType}, "X-A": {headerValue}},
			Kafka: kafka, Key: []byte(key), RecordHeaders: []mapping.RecordHeader{{Key: key, Value: body}}}
		for i, r := range renderers {
			checkRender(t, r, &rows, ev, widths[i])
		}
	})
}

// checkRender renders ev alone and twice in a batch and checks that the results agree.
func checkRender(t *testing.T, r *mapping.Renderer, rows *mapping.Rows, ev mapping.Event, width int) {
	t.Helper()
	row, err := r.AppendRow(nil, &ev)
	batch := []mapping.Event{ev, ev}
	mapping.Prepare(batch) // prepared or not, the rows are the same
	r.RenderBatch(batch, rows)
	if err != nil {
		var ce *mapping.ColumnError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v is not a *ColumnError", err)
		}
		if strings.Contains(err.Error(), "evaluation panicked") || strings.Contains(err.Error(), "template worker failed") {
			t.Fatalf("the template worker broke: %v", err) // a panic there is the worker's, not the test's
		}
		if rows.Err(0) == nil || rows.Err(0).Error() != err.Error() {
			t.Fatalf("batch error %v, single error %v", rows.Err(0), err)
		}
		return
	}
	records, cerr := csv.NewReader(bytes.NewReader(row)).ReadAll()
	if cerr != nil || len(records) != 1 || len(records[0]) != width {
		t.Fatalf("row %q is not one CSV record of %d fields: %v", row, width, cerr)
	}
	// The id differs per render; everything after it must match.
	if rows.Err(0) != nil || !bytes.Equal(row[38:], rows.Row(0)[38:]) || !bytes.Equal(rows.Row(0)[38:], rows.Row(1)[38:]) {
		t.Fatalf("batch row %q differs from single row %q (%v)", rows.Row(0), row, rows.Err(0))
	}
}

// FuzzCompile: no column list panics the compiler.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(fuzzColumns))
	f.Add([]byte(`{"columns":[{"type":"path","name":"x","path":"a[1].b\\.c"}]}`))
	f.Add([]byte(`[{"type":"template","name":"t","template":{"language":"jsonnet","content":"local Body = 1; Body"}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cols, err := mapping.DecodeColumns(data)
		if err != nil {
			return
		}
		if m, err := mapping.Compile(cols, mapping.Config{}); err == nil && len(m.Names()) != len(cols) {
			t.Fatalf("compiled %d columns from %d", len(m.Names()), len(cols))
		}
	})
}
