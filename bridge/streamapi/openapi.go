package streamapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/sink"
)

// The OpenAPI 3 document is built from the route table (paths, methods, statuses) and the
// Go types of the bodies (schemas, by reflection on their JSON tags), so it describes what
// the server serves and cannot drift from it.

// document returns the OpenAPI 3 document as JSON and YAML, built once.
func (s *Server) document() ([]byte, []byte) {
	s.docOnce.Do(func() {
		doc := s.buildDocument()
		s.docJSONBytes, _ = json.MarshalIndent(doc, "", "  ") // maps, slices and strings only
		var generic any
		_ = json.Unmarshal(s.docJSONBytes, &generic)
		s.docYAMLBytes, _ = yaml.Marshal(generic)
	})
	return s.docJSONBytes, s.docYAMLBytes
}

func (s *Server) docJSON() []byte { j, _ := s.document(); return j }
func (s *Server) docYAML() []byte { _, y := s.document(); return y }

func (s *Server) serveDocument(contentType string, doc func() []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(doc())
	}
}

// docState holds the built document; a Server embeds it.
type docState struct {
	docOnce      sync.Once
	docJSONBytes []byte
	docYAMLBytes []byte
}

type object = map[string]any

var pathParam = regexp.MustCompile(`\{([a-zA-Z]+)(\.\.\.)?\}`)

// docPath turns a mux pattern's path into an OpenAPI path: "/{$}" is "/", "{id...}" is "{id}".
func docPath(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return pathParam.ReplaceAllString(p, "{$1}")
}

var paramDescriptions = map[string]string{
	"branchId": `ID of the branch or "default".`, "sourceId": "ID of the source.", "sinkId": "ID of the sink.",
	"taskId": "ID of the task; it contains slashes.", "number": "Version number, counted from 1.",
}

func (s *Server) buildDocument() object {
	g := schemaGen{schemas: object{}}
	g.schemas["GenericError"] = g.schema(reflect.TypeFor[httperr.Body]())
	paths := object{}
	for _, rt := range s.table() {
		p := docPath(rt.path)
		item, _ := paths[p].(object)
		if item == nil {
			item = object{}
			paths[p] = item
		}
		item[strings.ToLower(rt.method)] = g.operation(rt)
	}
	return object{
		"openapi": "3.0.3",
		"info": object{"title": "kbridge Stream API", "version": "1.0",
			"description": "Keboola's Stream API (sources, sinks, settings, statistics, tasks) as kbridge serves it."},
		"servers": []any{object{"url": s.cfg.PublicURL}},
		"paths":   paths,
		"components": object{
			"schemas": g.schemas,
			"securitySchemes": object{"storageApiToken": object{"type": "apiKey", "in": "header", "name": "X-StorageApi-Token",
				"description": "A Keboola Storage API token of the project; writes need a master (admin) token."}},
		},
	}
}

func (g *schemaGen) operation(rt route) object {
	op := object{"operationId": rt.id, "summary": rt.summary, "tags": []any{"stream"}}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
		params = append(params, object{"name": m[1], "in": "path", "required": true,
			"description": paramDescriptions[m[1]], "schema": object{"type": "string"}})
	}
	switch rt.response.(type) {
	case SourceList, SinkList, VersionList, AggregatedSourceList:
		params = append(params,
			object{"name": "afterId", "in": "query", "description": "Request records after the ID.", "schema": object{"type": "string", "default": ""}},
			object{"name": "limit", "in": "query", "description": "Maximum number of returned records.",
				"schema": object{"type": "integer", "default": 100, "minimum": 1, "maximum": 100}})
	case FilesResult:
		params = append(params, object{"name": "failedFiles", "in": "query", "description": "Only files whose import or upload is being retried.",
			"schema": object{"type": "boolean", "default": false}})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.plain == nil {
		op["security"] = []any{object{"storageApiToken": []any{}}}
	}
	switch {
	case rt.request != nil:
		op["requestBody"] = object{"required": true, "content": object{"application/json": object{"schema": g.schema(reflect.TypeOf(rt.request))}}}
	case rt.id == "TestSource":
		op["requestBody"] = object{"description": "Any body, as the intake would receive it.",
			"content": object{"*/*": object{"schema": object{"type": "string", "format": "binary"}}}}
	}
	responses := object{strconv.Itoa(rt.status): g.response(rt)}
	for _, code := range rt.errors {
		responses[strconv.Itoa(code)] = object{"description": http.StatusText(code),
			"content": object{"application/json": object{"schema": object{"$ref": "#/components/schemas/GenericError"}}}}
	}
	op["responses"] = responses
	return op
}

func (g *schemaGen) response(rt route) object {
	r := object{"description": http.StatusText(rt.status)}
	switch {
	case rt.response != nil:
		r["content"] = object{"application/json": object{"schema": g.schema(reflect.TypeOf(rt.response))}}
	case rt.id == "HealthCheck":
		r["content"] = object{"text/plain": object{"schema": object{"type": "string", "example": "OK"}}}
	case rt.id == "Openapi3Json":
		r["content"] = object{"application/json": object{"schema": object{"type": "object"}}}
	case rt.id == "Openapi3Yaml":
		r["content"] = object{"application/yaml": object{"schema": object{"type": "string"}}}
	case rt.status == http.StatusMovedPermanently:
		r["headers"] = object{"Location": object{"schema": object{"type": "string", "example": "/v1"}}}
	}
	return r
}

// schemaGen builds JSON schemas of Go types from their JSON encoding: named structs become
// components referenced by name.
type schemaGen struct{ schemas object }

var timeTypes = map[reflect.Type]bool{reflect.TypeFor[time.Time](): true, reflect.TypeFor[sink.Time](): true}

func (g *schemaGen) schema(t reflect.Type) object {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if timeTypes[t] {
		return object{"type": "string", "format": "date-time", "example": "2024-04-28T14:20:04.123Z"}
	}
	switch t.Kind() {
	case reflect.String:
		return object{"type": "string"}
	case reflect.Bool:
		return object{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return object{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return object{"type": "number"}
	case reflect.Slice, reflect.Array:
		return object{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return object{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := componentName(t)
		if _, ok := g.schemas[name]; !ok {
			g.schemas[name] = object{} // a placeholder stops recursion
			props, required := object{}, []any{}
			g.fields(t, props, &required)
			sch := object{"type": "object", "properties": props}
			if len(required) > 0 {
				sch["required"] = required
			}
			g.schemas[name] = sch
		}
		return object{"$ref": "#/components/schemas/" + name}
	}
	return object{} // any value
}

// fields adds t's JSON fields to props, embedded structs inlined as encoding/json does.
func (g *schemaGen) fields(t reflect.Type, props object, required *[]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") || f.Type.Kind() == reflect.Pointer
		if !optional {
			*required = append(*required, name)
		}
	}
}

// componentName is the type's name, exported ("sourceBody" is "SourceBody").
func componentName(t reflect.Type) string {
	n := t.Name()
	return strings.ToUpper(n[:1]) + n[1:]
}
