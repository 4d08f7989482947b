package streamapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// loadDocument fetches the document over HTTP and validates it as OpenAPI 3.
func loadDocument(t *testing.T, e *env, path string) *openapi3.T {
	t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, data)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("%s: load: %v", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s: not valid OpenAPI 3: %v", path, err)
	}
	return doc
}

// TestOpenAPIDocument: both documents are valid OpenAPI 3 and every operation they describe is
// served (a request without a token reaches the route: 400 for the missing token, not 404 or
// 405 for an unknown route).
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	doc := loadDocument(t, e, "/v1/documentation/openapi3.json")
	yamlDoc := loadDocument(t, e, "/v1/documentation/openapi3.yaml")
	if len(yamlDoc.Paths.Map()) != len(doc.Paths.Map()) {
		t.Fatalf("yaml has %d paths, json %d", len(yamlDoc.Paths.Map()), len(doc.Paths.Map()))
	}
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			url := strings.NewReplacer("{branchId}", "default", "{sourceId}", "s", "{sinkId}", "k",
				"{number}", "1", "{taskId}", "api.create.source/1/s/x").Replace(path)
			req, _ := http.NewRequestWithContext(context.Background(), method, e.url+url, nil)
			client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(body, []byte("routeNotFound")) || bytes.Contains(body, []byte("methodNotAllowed")) || resp.StatusCode >= 500 {
				t.Errorf("%s %s (%s) is documented but answers %d %s", method, path, op.OperationID, resp.StatusCode, body)
			}
			if op.Security == nil && resp.StatusCode != 200 && resp.StatusCode != 301 {
				t.Errorf("%s %s needs no token but answers %d", method, path, resp.StatusCode)
			}
		}
	}
	if ops < 40 {
		t.Fatalf("only %d operations documented", ops)
	}
}

// TestResponsesMatchDocument runs a session of calls and validates every request and answer
// against the document: the schemas describe what the server really sends.
func TestResponsesMatchDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	doc := loadDocument(t, e, "/v1/documentation/openapi3.json")
	doc.Servers = openapi3.Servers{{URL: e.url}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	check := func(method, path, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), method, e.url+path, strings.NewReader(body))
		req.Header.Set("X-StorageApi-Token", masterToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		// A task id has slashes, which an OpenAPI path parameter cannot: the route is looked
		// up with them replaced.
		lookup := req.Clone(req.Context())
		if before, id, ok := strings.Cut(path, "/tasks/"); ok {
			lookup.URL.Path = before + "/tasks/" + strings.ReplaceAll(id, "/", "~")
		}
		route, params, err := router.FindRoute(lookup)
		if err != nil {
			t.Fatalf("%s %s: not in the document: %v", method, path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Fatalf("%s %s: request does not match the document: %v", method, path, err)
		}
		if body != "" {
			req.Body = io.NopCloser(strings.NewReader(body))
		}
		header, data := exchange(t, req, want)
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: want, Header: header,
			Body: io.NopCloser(bytes.NewReader(data)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Fatalf("%s %s: answer does not match the document: %v\n%s", method, path, err, data)
		}
		return data
	}
	check("POST", "/v1/branches/default/sources", `{"name":"Shop","type":"http","description":"d"}`, 202)
	check("GET", "/v1/branches/default/sources", "", 200)
	check("GET", shop, "", 200)
	check("POST", shop+"/sinks", ordersSink("Orders"), 202)
	check("PATCH", order, `{"name":"Orders 2","changeDescription":"Renamed."}`, 202)
	check("GET", order, "", 200)
	check("GET", shop+"/sinks", "", 200)
	check("GET", order+"/versions", "", 200)
	check("GET", order+"/versions/1", "", 200)
	check("PUT", order+"/versions/1/rollback", "", 202)
	check("GET", order+"/settings", "", 200)
	check("PATCH", order+"/settings", `{"settings":[{"key":"storage.level.target.import.trigger.count","value":5}]}`, 202)
	check("GET", order+"/statistics/total", "", 200)
	check("GET", order+"/statistics/files", "", 200)
	check("GET", "/v1/branches/default/aggregation/sources", "", 200)
	check("POST", shop+"/test", `{"a":1}`, 200)
	check("DELETE", order, "", 202)
	check("GET", shop+"/sinks/deleted", "", 200)
	var task struct{ TaskID string }
	if err := json.Unmarshal(check("PUT", order+"/undelete", "", 202), &task); err != nil {
		t.Fatal(err)
	}
	check("GET", "/v1/tasks/"+task.TaskID, "", 200)
	check("GET", shop+"/tasks/"+task.TaskID, "", 200)
	check("DELETE", shop, "", 202)
	check("GET", "/v1/branches/default/sources/deleted", "", 200)
	check("GET", shop, "", 404)
	check("PUT", shop+"/undelete", "", 202)
	check("GET", shop+"/versions/99", "", 404)
	check("POST", shop+"/rotate-secret", "", 200)
	check("GET", "/v1", "", 200)
}
