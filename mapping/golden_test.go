package mapping_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/kbridge/kbridge/mapping"
)

// A golden case is a txtar archive under testdata/cases:
//
//	-- columns.json --  the sink mapping (a column array or {"columns": [...]})
//	-- event.json --    optional: headers (name: value or [values]), ip, receivedAt, kafka {topic, partition, offset, key, timestamp, headers}
//	-- body --          the request body or record value (one trailing newline is dropped)
//	-- row --           the expected CSV row; <uuid> matches any UUIDv7
//	-- error --         or the expected error text (compile errors start with "compile: ")
type goldenEvent struct {
	Headers    map[string]any `json:"headers"` // a value, or a list of values
	IP         string         `json:"ip"`
	ReceivedAt string         `json:"receivedAt"`
	Kafka      *struct {
		Topic     string      `json:"topic"`
		Partition int32       `json:"partition"`
		Offset    int64       `json:"offset"`
		Key       *string     `json:"key"`
		Timestamp string      `json:"timestamp"`
		Headers   [][2]string `json:"headers"`
	} `json:"kafka"`
}

func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/cases/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			runGolden(t, file)
		})
	}
}

func runGolden(t *testing.T, file string) {
	archive, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	for _, f := range archive.Files {
		sections[f.Name] = string(f.Data)
	}
	wantRow, hasRow := sections["row"]
	wantErr := strings.TrimSpace(sections["error"])
	if hasRow == (wantErr != "") {
		t.Fatal("a case needs exactly one of -- row -- and -- error --")
	}

	columns, err := mapping.DecodeColumns([]byte(sections["columns.json"]))
	var m *mapping.Mapping
	if err == nil {
		m, err = mapping.Compile(columns, mapping.Config{TemplateTimeout: 5 * time.Second})
	}
	if err != nil {
		if got := "compile: " + err.Error(); got != wantErr {
			t.Fatalf("compile error\n got: %s\nwant: %s", got, wantErr)
		}
		return
	}
	ev := goldenEventFrom(t, sections["event.json"], strings.TrimSuffix(sections["body"], "\n"))

	r := m.NewRenderer()
	row, err := r.AppendRow(nil, &ev)
	check := func(how string, row string, err error) {
		t.Helper()
		if wantErr != "" {
			if err == nil || err.Error() != wantErr {
				t.Fatalf("%s: error\n got: %v\nwant: %s", how, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: unexpected error: %v", how, err)
		}
		if !matchRow(wantRow, row) {
			t.Fatalf("%s: row\n got: %q\nwant: %q", how, row, wantRow)
		}
	}
	check("AppendRow", string(row), err)

	// The same event in the middle of a batch of good events renders the same, and does not
	// disturb its neighbours.
	good := mapping.Event{Kafka: true, Body: []byte(`{}`)}
	batch := []mapping.Event{good, ev, good}
	var rows mapping.Rows
	r.RenderBatch(batch, &rows)
	check("RenderBatch", string(rows.Row(1)), rows.Err(1))
	if rows.Len() != 3 {
		t.Fatalf("RenderBatch rendered %d rows, want 3", rows.Len())
	}
}

var uuidV7 = `[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`

func matchRow(want, got string) bool {
	pattern := strings.ReplaceAll(regexp.QuoteMeta(want), "<uuid>", uuidV7)
	return regexp.MustCompile(`^` + pattern + `$`).MatchString(got)
}

func goldenEventFrom(t *testing.T, spec, body string) mapping.Event {
	var g goldenEvent
	if strings.TrimSpace(spec) != "" {
		if err := json.Unmarshal([]byte(spec), &g); err != nil {
			t.Fatalf("event.json: %v", err)
		}
	}
	ev := mapping.Event{Body: []byte(body), Header: http.Header{}}
	if g.Headers == nil {
		g.Headers = map[string]any{"Content-Type": "application/json"}
	}
	for k, v := range g.Headers {
		switch v := v.(type) {
		case string:
			ev.Header.Set(k, v)
		case []any:
			for _, one := range v {
				ev.Header.Add(k, one.(string))
			}
		default:
			t.Fatalf("event.json: header %s: %v is neither a string nor a list", k, v)
		}
	}
	if g.IP == "" {
		g.IP = "192.0.2.10"
	}
	ev.ClientIP = netip.MustParseAddr(g.IP)
	if g.ReceivedAt == "" {
		g.ReceivedAt = "2026-03-04T05:06:07.089Z"
	}
	ev.ReceivedAt = mustTime(t, g.ReceivedAt)
	if k := g.Kafka; k != nil {
		ev.Kafka, ev.Topic, ev.Partition, ev.Offset = true, k.Topic, k.Partition, k.Offset
		if k.Key != nil {
			ev.Key = []byte(*k.Key)
		}
		ev.Timestamp = mustTime(t, k.Timestamp)
		for _, h := range k.Headers {
			ev.RecordHeaders = append(ev.RecordHeaders, mapping.RecordHeader{Key: h[0], Value: []byte(h[1])})
		}
	}
	return ev
}

func mustTime(t *testing.T, s string) time.Time {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	return tm
}

func TestMain(m *testing.M) {
	mapping.InitWorkers()
	os.Exit(m.Run())
}
