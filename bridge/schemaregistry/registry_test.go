package schemaregistry_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/bridge/schemaregistry"
)

const (
	v1          = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`
	v2Default   = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int","default":0}]}`
	v2NoDefault = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"price","type":"double"}]}`
)

func serve(t *testing.T, dir string) string {
	t.Helper()
	reg, err := schemaregistry.New(schemaregistry.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func schemaBody(schema, typ string) string {
	b, _ := json.Marshal(map[string]string{"schema": schema, "schemaType": typ})
	return string(b)
}

// call sends one request and returns the status and the body, compacted.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// The REST API as Confluent's clients use it, request by request, then again after a restart
// from the same data directory.
func TestAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := serve(t, dir)
	steps := []struct {
		method, path, body string
		status             int
		want               string // the body, or its prefix when it ends with "…"
	}{
		{"GET", "/subjects", "", 200, `[]`},
		{"POST", "/subjects/orders-value/versions", schemaBody(v1, ""), 200, `{"id":1}`},
		{"POST", "/subjects/orders-value/versions", schemaBody(v1, "AVRO"), 200, `{"id":1}`}, // again: same id, no new version
		{"POST", "/subjects/copy-value/versions", schemaBody(v1, ""), 200, `{"id":1}`},       // same schema, another subject
		{"GET", "/schemas/ids/1", "", 200, `{"schema":` + quote(v1) + `}`},
		{"GET", "/schemas/ids/1/schema", "", 200, v1},
		{"GET", "/schemas/ids/1/versions", "", 200, `[{"subject":"copy-value","version":1},{"subject":"orders-value","version":1}]`},
		{"GET", "/schemas/ids/7", "", 404, `{"error_code":40403,"message":"Schema 7 not found"}`},
		{"GET", "/subjects/nope/versions", "", 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`},
		{"GET", "/config", "", 200, `{"compatibilityLevel":"BACKWARD"}`},
		// BACKWARD: a new field without a default cannot read the old data
		{"POST", "/compatibility/subjects/orders-value/versions/latest?verbose=true", schemaBody(v2NoDefault, ""), 200, `{"is_compatible":false,"messages":[…`},
		{"POST", "/compatibility/subjects/orders-value/versions/latest", schemaBody(v2Default, ""), 200, `{"is_compatible":true}`},
		{"POST", "/subjects/orders-value/versions", schemaBody(v2NoDefault, ""), 409, `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"orders-value\"…`},
		{"POST", "/subjects/orders-value/versions", schemaBody(v2Default, ""), 200, `{"id":2}`},
		{"GET", "/subjects/orders-value/versions", "", 200, `[1,2]`},
		{"GET", "/subjects/orders-value/versions/latest", "", 200, `{"id":2,"schema":` + quote(v2Default) + `,"subject":"orders-value","version":2}`},
		{"GET", "/subjects/orders-value/versions/1", "", 200, `{"id":1,"schema":` + quote(v1) + `,"subject":"orders-value","version":1}`},
		{"GET", "/subjects/orders-value/versions/3", "", 404, `{"error_code":40402,"message":"Version 3 not found."}`},
		{"POST", "/subjects/orders-value", schemaBody(v1, ""), 200, `{"id":1,"schema":` + quote(v1) + `,"subject":"orders-value","version":1}`},
		{"POST", "/subjects/orders-value", schemaBody(v2NoDefault, ""), 404, `{"error_code":40403,"message":"Schema not found"}`},
		// NONE on the subject lets anything in
		{"PUT", "/config/orders-value", `{"compatibility":"NONE"}`, 200, `{"compatibility":"NONE"}`},
		{"GET", "/config/orders-value", "", 200, `{"compatibilityLevel":"NONE"}`},
		{"GET", "/config/copy-value", "", 404, `{"error_code":40408,…`},
		{"PUT", "/config", `{"compatibility":"SIDEWAYS"}`, 422, `{"error_code":42203,…`},
		{"POST", "/subjects/orders-value/versions", schemaBody(v2NoDefault, ""), 200, `{"id":3}`},
		{"POST", "/subjects/bad-value/versions", schemaBody(`{"type":"record"}`, ""), 422, `{"error_code":42201,…`},
		{"POST", "/subjects/p-value/versions", schemaBody(`syntax = "proto3"; message M { string a = 1; }`, "PROTOBUF"), 200, `{"id":4}`},
		{"POST", "/subjects/p2-value/versions", schemaBody(`syntax = "proto3"; message M { strin a = 1; }`, "PROTOBUF"), 422, `{"error_code":42201,…`},
		{"POST", "/subjects/j-value/versions", schemaBody(`{"type":"object"}`, "JSON"), 200, `{"id":5}`},
		{"GET", "/schemas/ids/4", "", 200, `{"schema":"syntax = \"proto3\"; message M { string a = 1; }","schemaType":"PROTOBUF"}`},
		{"GET", "/subjects", "", 200, `["copy-value","j-value","orders-value","p-value"]`},
		{"DELETE", "/subjects/copy-value", "", 200, `[1]`},
		{"GET", "/subjects", "", 200, `["j-value","orders-value","p-value"]`},
		{"GET", "/schemas/ids/1", "", 200, `{"schema":` + quote(v1) + `}`}, // ids outlive their subjects
		{"GET", "/schemas/types", "", 200, `["JSON","PROTOBUF","AVRO"]`},
	}
	for i, s := range steps {
		status, body := call(t, s.method, url+s.path, s.body)
		if prefix, ok := strings.CutSuffix(s.want, "…"); status != s.status || ok && !strings.HasPrefix(body, prefix) || !ok && body != s.want {
			t.Fatalf("step %d %s %s: %d %s\nwant %d %s", i, s.method, s.path, status, body, s.status, s.want)
		}
	}

	again := serve(t, dir) // a restart: everything is read back
	for _, s := range []struct{ path, want string }{
		{"/subjects", `["j-value","orders-value","p-value"]`},
		{"/subjects/orders-value/versions", `[1,2,3]`},
		{"/schemas/ids/2/schema", v2Default},
		{"/config/orders-value", `{"compatibilityLevel":"NONE"}`},
	} {
		if status, body := call(t, "GET", again+s.path, ""); status != 200 || body != s.want {
			t.Errorf("after a restart GET %s: %d %s, want %s", s.path, status, body, s.want)
		}
	}
	if status, body := call(t, "POST", again+"/subjects/new-value/versions", schemaBody(v1, "")); body != `{"id":1}` {
		t.Errorf("after a restart a known schema got %d %s", status, body)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
