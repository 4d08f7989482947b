package intake_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/bridge/intake"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

func TestMain(m *testing.M) {
	if os.Getenv("KBRIDGE_INTAKE_LOAD") != "" || os.Getenv("KBRIDGE_INTAKE_BENCH") != "" {
		os.Exit(m.Run()) // the load test leaves wrk's connections to the kernel
	}
	// fasthttp refreshes the Date header line once a second in a goroutine of its own, started
	// with the first answer of the process and never stopped.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

const secret = "s3cretS3cretS3cretS3cretS3cretS3cretS3cretS3cret"

func key(id string) sink.SourceKey { return sink.SourceKey{ProjectID: 1, BranchID: 1, SourceID: id} }

var testColumns = []mapping.Column{
	{Type: mapping.KindPath, Name: "id", Path: "id", RawString: true},
	{Type: mapping.KindPath, Name: "name", Path: "name", RawString: true},
	{Type: mapping.KindBody, Name: "body"},
}

// define creates an http source with one sink per table (sinks with patch settings).
func define(t testing.TB, m *sink.Manager, id string, disabled bool, patch sink.Patch, tables ...string) {
	t.Helper()
	if err := m.PutSource(sink.Source{Key: key(id), Type: "http", Name: id, Secret: secret, Disabled: disabled}); err != nil {
		t.Fatal(err)
	}
	for i, table := range tables {
		def := sink.Sink{Key: sink.SinkKey{SourceKey: key(id), SinkID: "sink-" + string(rune('a'+i))},
			Name: "sink", TableID: table, Columns: testColumns, Settings: patch}
		if err := m.PutSink(def); err != nil {
			t.Fatal(err)
		}
	}
}

var fastSync = sink.Patch{"storage.level.local.encoding.sync.countTrigger": 1}

type exchange struct {
	name        string
	method      string
	path        string
	header      map[string]string
	body        string
	gzip        bool
	wantStatus  int
	wantBody    string // exact, or a prefix when it ends with "…"
	wantHeaders map[string]string
}

func TestIntake(t *testing.T) {
	t.Parallel()
	m := newManager(t, true)
	define(t, m, "events", false, fastSync, "in.c-test.events")
	define(t, m, "async", false, sink.Patch{"storage.level.local.encoding.sync.wait": false}, "in.c-test.async")
	define(t, m, "nosink", false, nil)
	define(t, m, "off", true, fastSync, "in.c-test.off")
	url, _ := serve(t, m, func(c *intake.Config) { c.MaxBodySize = 200 })
	jsonCT := map[string]string{"Content-Type": "application/json"}
	ndjson := map[string]string{"Content-Type": "application/x-ndjson"}
	for _, tc := range []exchange{
		{name: "health", method: "GET", path: "/health-check", wantStatus: 200, wantBody: "OK\n"},
		{name: "route", method: "GET", path: "/foo", wantStatus: 404,
			wantBody: `{"statusCode":404,"error":"stream.in.routeNotFound","message":"Not found, please send data using POST /stream/<projectID>/<sourceID>/<secret>"}`},
		{name: "ok", method: "POST", path: "/stream/1/events/" + secret, header: jsonCT, body: `{"id":"1","name":"a"}`, wantStatus: 200, wantBody: "OK",
			wantHeaders: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Access-Control-Allow-Origin": "*"}},
		{name: "charset", method: "POST", path: "/stream/1/events/" + secret, header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			body: `{"id":"2","name":"b"}`, wantStatus: 200, wantBody: "OK"},
		{name: "form", method: "POST", path: "/stream/1/events/" + secret, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body: `id=3&name=c`, wantStatus: 200, wantBody: "OK"},
		{name: "gzip", method: "POST", path: "/stream/1/events/" + secret, header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"},
			body: `{"id":"4","name":"d"}`, gzip: true, wantStatus: 200, wantBody: "OK"},
		{name: "accepted", method: "POST", path: "/stream/1/async/" + secret, header: jsonCT, body: `{"id":"1","name":"a"}`, wantStatus: 202, wantBody: "OK"},
		{name: "verbose", method: "POST", path: "/stream/1/events/" + secret + "?verbose=true", header: jsonCT, body: `{"id":"5","name":"e"}`, wantStatus: 200,
			wantBody: `{"statusCode":200,"message":"Successfully written to 1/1 sinks.","records":1,"sources":[{"projectId":1,"sourceId":"events","branchId":1,"statusCode":200,"message":"Successfully written to 1/1 sinks.","sinks":[{"sinkId":"sink-a","statusCode":200,"message":"processed"}]}]}`},
		{name: "verbose-accepted", method: "POST", path: "/stream/1/async/" + secret + "?verbose=true", header: jsonCT, body: `{"id":"5","name":"e"}`, wantStatus: 202,
			wantBody: `{"statusCode":202,"message":"Successfully written to 1/1 sinks.","records":1,"sources":[{"projectId":1,"sourceId":"async","branchId":1,"statusCode":202,"message":"Successfully written to 1/1 sinks.","sinks":[{"sinkId":"sink-a","statusCode":202,"message":"accepted"}]}]}`},
		{name: "preflight", method: "OPTIONS", path: "/stream/1/events/" + secret, wantStatus: 200, wantBody: "",
			wantHeaders: map[string]string{"Allow": "OPTIONS, POST", "Access-Control-Allow-Methods": "OPTIONS, POST", "Access-Control-Allow-Headers": "*", "Access-Control-Allow-Origin": "*"}},
		{name: "method", method: "GET", path: "/stream/1/events/" + secret, wantStatus: 405,
			wantBody: `{"statusCode":405,"error":"stream.in.methodNotAllowed","message":"Method GET is not allowed, please send data using POST."}`},
		{name: "bad-project", method: "POST", path: "/stream/foo/events/" + secret, wantStatus: 400,
			wantBody: `{"statusCode":400,"error":"stream.in.badRequest","message":"Invalid project ID \"foo\"."}`},
		{name: "unknown-source", method: "POST", path: "/stream/1/nope/" + secret, wantStatus: 404,
			wantBody: `{"statusCode":404,"error":"stream.in.noSourceFound","message":"The specified combination of projectID, sourceID and secret was not found."}`},
		{name: "wrong-secret", method: "POST", path: "/stream/1/events/" + strings.Repeat("x", 48), wantStatus: 404,
			wantBody: `{"statusCode":404,"error":"stream.in.noSourceFound","message":"The specified combination of projectID, sourceID and secret was not found."}`},
		{name: "disabled", method: "POST", path: "/stream/1/off/" + secret, wantStatus: 404,
			wantBody: `{"statusCode":404,"error":"stream.in.disabledSource","message":"The specified source is disabled."}`},
		{name: "no-sink", method: "POST", path: "/stream/1/nosink/" + secret, body: "x", wantStatus: 409,
			wantBody: `{"statusCode":409,"error":"stream.in.noEnabledSink","message":"The source has no enabled sink, the record was not written."}`},
		{name: "too-large", method: "POST", path: "/stream/1/events/" + secret, header: jsonCT, body: strings.Repeat("x", 201), wantStatus: 413,
			wantBody: `{"statusCode":413,"error":"stream.in.bodyTooLarge","message":"Payload too large, the maximum size is 200B."}`},
		{name: "too-large-gzip", method: "POST", path: "/stream/1/events/" + secret, header: map[string]string{"Content-Encoding": "gzip"},
			body: strings.Repeat("x", 5000), gzip: true, wantStatus: 413, wantBody: `{"statusCode":413,"error":"stream.in.bodyTooLarge"…`},
		{name: "bad-encoding", method: "POST", path: "/stream/1/events/" + secret, header: map[string]string{"Content-Encoding": "br"}, body: "x", wantStatus: 415,
			wantBody: `{"statusCode":415,"error":"stream.in.unsupportedContentEncoding","message":"Unsupported Content-Encoding \"br\", supported: gzip."}`},
		{name: "bad-gzip", method: "POST", path: "/stream/1/events/" + secret, header: map[string]string{"Content-Encoding": "gzip"}, body: "not gzip", wantStatus: 400,
			wantBody: `{"statusCode":400,"error":"stream.in.badRequest"…`},
		{name: "content-type", method: "POST", path: "/stream/1/events/" + secret, header: map[string]string{"Content-Type": "text/plain"}, body: "x", wantStatus: 415,
			wantBody: `{"statusCode":415,"error":"stream.in.unsupportedContentType","message":"Invalid value for column \"id\": unsupported content type \"text/plain\", supported types: application/json (or application/*+json) and application/x-www-form-urlencoded."}`},
		{name: "missing-path", method: "POST", path: "/stream/1/events/" + secret, header: jsonCT, body: `{"id":"1"}`, wantStatus: 422,
			wantBody: `{"statusCode":422,"error":"stream.in.unprocessableContent","message":"Invalid value for column \"name\": path \"name\" not found in the body."}`},
		{name: "invalid-json", method: "POST", path: "/stream/1/events/" + secret, header: jsonCT, body: `{"id":`, wantStatus: 422,
			wantBody: `{"statusCode":422,"error":"stream.in.unprocessableContent","message":"Invalid value for column \"id\"…`},
		{name: "ndjson", method: "POST", path: "/stream/1/events/" + secret + "?verbose=true", header: ndjson,
			body: "{\"id\":\"n1\",\"name\":\"a\"}\n\n{\"id\":\"n2\",\"name\":\"b\"}\r\n", wantStatus: 200,
			wantBody: `{"statusCode":200,"message":"Successfully written to 1/1 sinks.","records":2,…`},
		{name: "ndjson-bad-lines", method: "POST", path: "/stream/1/events/" + secret, header: ndjson,
			body: "{\"id\":\"n3\",\"name\":\"a\"}\n{\"id\":\"n4\"}\n{\"id\":\"n5\",\"name\":\"c\"}\n{\"name\":\"d\"}", wantStatus: 422,
			wantBody: `{"statusCode":422,"error":"stream.in.unprocessableContent","message":"2 of 4 lines cannot be written, nothing was written.","lines":[{"line":2,"error":"Invalid value for column \"name\": path \"name\" not found in the body."},{"line":4,"error":"Invalid value for column \"id\": path \"id\" not found in the body."}]}`},
		{name: "ndjson-empty", method: "POST", path: "/stream/1/events/" + secret, header: ndjson, body: "\n\n", wantStatus: 400,
			wantBody: `{"statusCode":400,"error":"stream.in.badRequest","message":"The NDJSON body holds no record."}`},
		{name: "ndjson-long-line", method: "POST", path: "/stream/1/events/" + secret, header: ndjson, body: `{"id":"` + strings.Repeat("x", 300) + `"}`, wantStatus: 413,
			wantBody: `{"statusCode":413,"error":"stream.in.bodyTooLarge","message":"Line 1: Payload too large, the maximum size is 200B."}`},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, url, tc) })
	}
	st, err := m.SinkStatistics(sink.SinkKey{SourceKey: key("events"), SinkID: "sink-a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Total.RecordsCount; got != 7 { // ok, charset, form, gzip, verbose, 2 ndjson lines
		t.Fatalf("records written = %d, want 7 (nothing from refused requests)", got)
	}
}

func check(t *testing.T, base string, tc exchange) {
	t.Helper()
	body := []byte(tc.body)
	if tc.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
	}
	req, err := http.NewRequestWithContext(context.Background(), tc.method, base+tc.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tc.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	got = bytes.TrimSuffix(got, []byte("\n"))
	if tc.wantBody == "OK\n" {
		got = append(got, '\n')
	}
	if resp.StatusCode != tc.wantStatus {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, got)
	}
	if prefix, ok := strings.CutSuffix(tc.wantBody, "…"); ok {
		if !strings.HasPrefix(string(got), prefix) {
			t.Fatalf("body\n%s\nwant prefix\n%s", got, prefix)
		}
	} else if string(got) != tc.wantBody {
		t.Fatalf("body\n%s\nwant\n%s", got, tc.wantBody)
	}
	for k, v := range tc.wantHeaders {
		if g := resp.Header.Get(k); g != v {
			t.Fatalf("header %s = %q, want %q", k, g, v)
		}
	}
	if strings.HasPrefix(tc.wantBody, "{") && !json.Valid(got) {
		t.Fatalf("invalid JSON %s", got)
	}
}

// TestBackpressure: a sink that cannot take records (here: the manager is not running, so no
// slice is open) answers 503 with Retry-After at once.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	m := newManager(t, false)
	define(t, m, "events", false, nil, "in.c-test.events")
	url, _ := serve(t, m)
	req, err := http.NewRequestWithContext(context.Background(), "POST", url+"/stream/1/events/"+secret, strings.NewReader(`{"id":"1","name":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"error":"stream.in.pipelineNotReady"`) {
		t.Fatalf("got %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// TestNDJSONAcrossBranches: a URL matching sources in two branches writes a batch to both or,
// when a sink of either branch cannot render a line, to neither.
func TestNDJSONAcrossBranches(t *testing.T) {
	t.Parallel()
	storage := newStorageClient(t, startEmulator(t))
	if b, err := storage.CreateBranch(context.Background(), "dev", ""); err != nil || b.ID != 2 {
		t.Fatalf("create branch 2: %+v, %v", b, err)
	}
	m := newManagerWith(t, true, sink.Deps{Storage: storage})
	define(t, m, "multi", false, fastSync, "in.c-test.multi")
	other := sink.SourceKey{ProjectID: 1, BranchID: 2, SourceID: "multi"}
	if err := m.PutSource(sink.Source{Key: other, Type: "http", Name: "multi", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	cols := []mapping.Column{{Type: mapping.KindPath, Name: "extra", Path: "extra", RawString: true}}
	if err := m.PutSink(sink.Sink{Key: sink.SinkKey{SourceKey: other, SinkID: "sink-a"}, Name: "sink",
		TableID: "in.c-test.multi2", Columns: cols, Settings: fastSync}); err != nil {
		t.Fatal(err)
	}
	url, _ := serve(t, m)
	ndjson := map[string]string{"Content-Type": "application/x-ndjson"}
	path := "/stream/1/multi/" + secret
	check(t, url, exchange{method: "POST", path: path, header: ndjson, wantStatus: 422,
		body:     "{\"id\":\"1\",\"name\":\"a\",\"extra\":\"x\"}\n{\"id\":\"2\",\"name\":\"b\"}",
		wantBody: `{"statusCode":422,"error":"stream.in.unprocessableContent","message":"1 of 2 lines cannot be written, nothing was written.","lines":[{"line":2,"error":"Invalid value for column \"extra\": path \"extra\" not found in the body."}]}`})
	check(t, url, exchange{method: "POST", path: path, header: ndjson, wantStatus: 200, wantBody: "OK",
		body: "{\"id\":\"3\",\"name\":\"c\",\"extra\":\"x\"}\n{\"id\":\"4\",\"name\":\"d\",\"extra\":\"y\"}"})
	for _, k := range []sink.SinkKey{{SourceKey: key("multi"), SinkID: "sink-a"}, {SourceKey: other, SinkID: "sink-a"}} {
		st, err := m.SinkStatistics(k)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Total.RecordsCount; got != 2 {
			t.Fatalf("%s: records written = %d, want 2 (nothing from the refused batch)", k, got)
		}
	}
}

// TestHostAndContentLengthReachTheMapping: as in Keboola's HTTP source (fasthttp's request
// header), a mapping sees Host and Content-Length among the headers; for a chunked body
// Content-Length is the length read.
func TestHostAndContentLengthReachTheMapping(t *testing.T) {
	t.Parallel()
	m := newManager(t, true)
	if err := m.PutSource(sink.Source{Key: key("hdr"), Type: "http", Name: "hdr", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	cols := []mapping.Column{{Type: mapping.KindTemplate, Name: "h", Template: &mapping.Template{Language: "jsonnet",
		Content: `error 'Host=' + Header('Host', 'none') + ' Content-Length=' + Header('Content-Length', 'none') + ' in ' + std.toString(std.objectFields(Header()))`}}}
	if err := m.PutSink(sink.Sink{Key: sink.SinkKey{SourceKey: key("hdr"), SinkID: "sink-a"}, Name: "sink",
		TableID: "in.c-test.hdr", Columns: cols, Settings: fastSync}); err != nil {
		t.Fatal(err)
	}
	base, _ := serve(t, m)
	host := strings.TrimPrefix(base, "http://")
	body := `{"id":"1"}`
	for _, tc := range []struct {
		name    string
		chunked bool
	}{{"length", false}, {"chunked", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(body)
			if tc.chunked {
				r = io.MultiReader(r) // no known length: the client sends it chunked
			}
			req, err := http.NewRequestWithContext(context.Background(), "POST", base+"/stream/1/hdr/"+secret, r)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			want := `Invalid value for column \"h\": template failed: Host=` + host + ` Content-Length=10 in [\"Accept-Encoding\", \"Content-Length\", \"Content-Type\", \"Host\", \"User-Agent\"]`
			if resp.StatusCode != 422 || !strings.Contains(string(got), want) {
				t.Fatalf("status %d, body %s\nwant it to hold %s", resp.StatusCode, got, want)
			}
		})
	}
}
