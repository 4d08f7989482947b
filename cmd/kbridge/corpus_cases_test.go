package main_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

const devToken = "kbridge-dev-token"

// hostileCorpus lists the cases TestHostileCorpus fires at kbridge dev, in order: requests that
// could change something come after those that read.
func hostileCorpus() []hostile {
	var out []hostile
	add := func(c hostile) { out = append(out, c) }
	token := map[string]string{"X-StorageApi-Token": devToken, "Content-Type": "application/json"}
	const sources = "/v1/branches/default/sources"

	// Stream API: every route without a token, with a wrong one, with a wrong bearer.
	routes := [][2]string{{"GET", sources}, {"POST", sources}, {"GET", sources + "/demo"}, {"PATCH", sources + "/demo"},
		{"DELETE", sources + "/demo"}, {"PUT", sources + "/demo/enable"}, {"PUT", sources + "/demo/disable"},
		{"POST", sources + "/demo/rotate-secret"}, {"GET", sources + "/demo/settings"}, {"PATCH", sources + "/demo/settings"},
		{"POST", sources + "/demo/test"}, {"POST", sources + "/demo/sinks"}, {"GET", sources + "/demo/sinks"},
		{"GET", sources + "/demo/sinks/events"}, {"PATCH", sources + "/demo/sinks/events"}, {"DELETE", sources + "/demo/sinks/events"},
		{"PUT", sources + "/demo/sinks/events/enable"}, {"PUT", sources + "/demo/sinks/events/disable"},
		{"GET", sources + "/demo/sinks/events/settings"}, {"PATCH", sources + "/demo/sinks/events/settings"},
		{"GET", sources + "/demo/sinks/events/statistics/total"}, {"GET", sources + "/demo/sinks/events/statistics/files"},
		{"DELETE", sources + "/demo/sinks/events/statistics/clear"}, {"DELETE", sources + "/demo/statistics/clear"},
		{"GET", "/v1/tasks/source.create/123"}}
	for _, r := range routes {
		add(hostile{name: "api no token " + r[0] + " " + r[1], target: "api", method: r[0], path: r[1], body: `{}`,
			headers: map[string]string{"Content-Type": "application/json"}, status: 400, reason: "X-StorageApi-Token"})
		add(hostile{name: "api wrong token " + r[0] + " " + r[1], target: "api", method: r[0], path: r[1], body: `{}`,
			headers: map[string]string{"X-StorageApi-Token": "0000-wrong"}, status: 401, reason: "Invalid storage token"})
		add(hostile{name: "api wrong bearer " + r[0] + " " + r[1], target: "api", method: r[0], path: r[1], body: `{}`,
			headers: map[string]string{"Authorization": "Bearer " + strings.Repeat("x", 4000)}, status: 401, reason: "Invalid storage token"})
	}
	// Bad JSON and oversize fields on source creation.
	for _, b := range []string{`{`, `[]`, `"x"`, `1`, `{"name":1,"type":"http"}`, `{"name":"a","type":"http"}{}`, `{"name":"a","type":"http","extra":1}`,
		`{"name":"a","type":"otlp"}`, `{"type":"http"}`, `{"name":"","type":"http"}`, `{"name":"` + strings.Repeat("n", 41) + `","type":"http"}`,
		`{"name":"a","type":"http","description":"` + strings.Repeat("d", 4097) + `"}`, `{"name":"a","sourceId":"` + strings.Repeat("s", 49) + `","type":"http"}`,
		`{"name":"\u0000\u0001","type":"http"}`, `{"name":"` + strings.Repeat("😀", 41) + `","type":"http"}`, ``} {
		add(hostile{name: "api create source " + trim(b), target: "api", method: "POST", path: sources, headers: token, body: b, status: 400})
	}
	add(hostile{name: "api body over 1 MB", target: "api", method: "POST", path: sources, headers: token,
		body: `{"name":"a","type":"http","description":"` + strings.Repeat("d", 2<<20) + `"}`, status: 413, reason: "larger than"})
	// Names Storage refuses, at sink creation: 400 naming the field.
	sink := func(tableID, column string) string {
		b, _ := json.Marshal(map[string]any{"name": "Bad", "type": "table", "table": map[string]any{"type": "keboola", "tableId": tableID,
			"mapping": map[string]any{"columns": []map[string]any{{"type": "uuid", "name": "id"}, {"type": "body", "name": column}}}}})
		return string(b)
	}
	for _, id := range []string{"in.c-demo.t;DROP TABLE x", "in.c-demo." + strings.Repeat("t", 300), "in.c-demo.tábulka", `in.c-demo.t"q`,
		"in.c-demo.t'q", "in.c-de mo.t", "in.c-demo.😀", "in.c-demo.a/b", "in.c-demo.", "in.c-.t", "sys.c-demo.t", "in.demo.t",
		"in.c-demo.t.u", "../../etc/passwd", "in.c-demo.t\u0000", ""} {
		add(hostile{name: "api sink table " + trim(id), target: "api", method: "POST", path: sources + "/demo/sinks", headers: token,
			body: sink(id, "body"), status: 400, reason: "tableId"})
	}
	for _, id := range []string{"in.c-demo.t;DROP TABLE x", "in.c-demo." + strings.Repeat("t", 97), "in.c-demo.tábulka", `in.c-demo.t"q`,
		"in.c-de mo.t", "in.c-demo.😀", "in.c-demo.", "out.c-x y.t"} {
		b, _ := json.Marshal(map[string]any{"table": map[string]any{"type": "keboola", "tableId": id}})
		add(hostile{name: "api patch sink table " + trim(id), target: "api", method: "PATCH", path: sources + "/demo/sinks/events", headers: token,
			body: string(b), status: 400, reason: "tableId"})
	}
	for _, kv := range [][2]string{{"nope.key", `1`}, {"storage.level.staging.upload.trigger.interval", `"abc"`},
		{"storage.level.staging.upload.trigger.interval", `-1`}, {"storage.level.staging.upload.trigger.count", `"many"`},
		{"storage.level.staging.upload.trigger.count", `true`}, {"storage.level.target.import.trigger.interval", `"999999h"`}} {
		b := `{"settings":[{"key":"` + kv[0] + `","value":` + kv[1] + `}]}`
		for _, p := range []string{sources + "/demo/settings", sources + "/demo/sinks/events/settings"} {
			add(hostile{name: "api settings " + p + " " + kv[0] + "=" + kv[1], target: "api", method: "PATCH", path: p, headers: token,
				body: b, status: 400, reason: kv[0]})
		}
	}
	for _, col := range []string{"a b", "_timestamp", strings.Repeat("c", 65), "😀", `x"; DROP`, "naïve", "a-b", "a.b", "", "tab\t"} {
		add(hostile{name: "api sink column " + trim(col), target: "api", method: "POST", path: sources + "/demo/sinks", headers: token,
			body: sink("in.c-demo.ok", col), status: 400, reason: "column"})
	}
	for _, tmpl := range []string{`{"language":"jsonnet","content":""}`, `{"language":"lua","content":"1"}`, `{"language":"jsonnet","content":"Body("}`,
		`{"language":"jsonnet","content":"` + strings.Repeat("x", 4097) + `"}`} {
		b := `{"name":"Tmpl","type":"table","table":{"type":"keboola","tableId":"in.c-demo.t","mapping":{"columns":[{"type":"template","name":"t","template":` + tmpl + `}]}}}`
		add(hostile{name: "api sink template " + trim(tmpl), target: "api", method: "POST", path: sources + "/demo/sinks", headers: token, body: b, status: 400})
	}
	// Wrong methods, unknown routes, bad branches, traversal in ids.
	for _, r := range [][3]string{{"PUT", sources, "405"}, {"POST", sources + "/demo", "405"}, {"TRACE", sources, "405"},
		{"GET", "/v1/branches/abc/sources", "400"}, {"GET", "/v1/branches/-1/sources", "400"}, {"GET", "/v2/anything", "404"},
		{"GET", sources + "/..%2F..%2Fetc", "404"}, {"GET", sources + "/" + strings.Repeat("a", 5000), "404"},
		{"GET", sources + "/demo/sinks/%2E%2E", "404"}, {"DELETE", sources + "/nope", "404"},
		{"GET", "/v1/branches/1/sources/../../../etc/passwd", "404"}} {
		status := map[string]int{"400": 400, "404": 404, "405": 405}[r[2]]
		add(hostile{name: "api route " + r[0] + " " + trim(r[1]), target: "api", method: r[0], path: r[1], headers: token, status: status})
	}

	// Connect (open in kbridge dev): bad JSON, bad keys, bad names, wrong methods.
	connJSON := map[string]string{"Content-Type": "application/json"}
	connector := func(name string, cfg map[string]string) string {
		b, _ := json.Marshal(map[string]any{"name": name, "config": cfg})
		return string(b)
	}
	good := func(extra ...string) map[string]string {
		m := map[string]string{"connector.class": "io.kbridge.KeboolaSinkConnector", "topics": "events", "kbridge.source": "demo"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	for _, b := range []string{`{`, `[]`, `null`, `{"name":"x"}`, `{"name":"x","config":[]}`, `{"name":"x","config":{"a":{"b":1}}}`} {
		add(hostile{name: "connect create " + trim(b), target: "connect", method: "POST", path: "/connectors", headers: connJSON, body: b, status: 400})
	}
	for _, n := range []string{".", "..", "a/b", "../../etc/passwd", strings.Repeat("n", 300), strings.Repeat("😀", 20), "tab\there", "nl\nhere", ""} {
		add(hostile{name: "connect name " + trim(n), target: "connect", method: "POST", path: "/connectors", headers: connJSON,
			body: connector(n, good()), status: 400})
	}
	for _, kv := range [][2]string{{"connector.class", "com.example.Nope"}, {"tasks.max", "abc"}, {"tasks.max", "-1"}, {"batch.max.size", "0"},
		{"errors.tolerance", "some"}, {"kbridge.source", "nope"}, {"kbridge.commit.level", "disk"}, {"topics.regex", "("},
		{"http.api.url", "https://stream.keboola.com/stream/1/demo/wrong-secret"}, {"http.api.url", "not a url"},
		{"consumer.override.auto.offset.reset", "sideways"}, {"behavior.on.null.values", "explode"}, {"connection.password", "[hidden]"},
		{"errors.deadletterqueue.topic.name", "events"}} {
		cfg := good(kv[0], kv[1])
		if kv[0] == "http.api.url" {
			delete(cfg, "kbridge.source")
		}
		add(hostile{name: "connect key " + kv[0] + "=" + trim(kv[1]), target: "connect", method: "POST", path: "/connectors", headers: connJSON,
			body: connector("bad", cfg), status: 400})
	}
	for _, r := range [][3]string{{"DELETE", "/connectors", "405"}, {"PUT", "/connectors", "405"}, {"GET", "/connectors/nope", "404"},
		{"GET", "/connectors/nope/config", "404"}, {"DELETE", "/connectors/nope", "404"}, {"GET", "/nowhere", "404"},
		{"GET", "/connectors/%2E%2E/status", "404"}, {"PUT", "/connectors/nope/pause", "404"}, {"GET", "/connector-plugins/x/config", "404"}} {
		status := map[string]int{"404": 404, "405": 405}[r[2]]
		add(hostile{name: "connect route " + r[0] + " " + r[1], target: "connect", method: r[0], path: r[1], status: status})
	}
	for _, kv := range [][2]string{{"connector.class", "com.example.Nope"}, {"tasks.max", "abc"}, {"batch.max.size", "0"},
		{"errors.tolerance", "some"}, {"kbridge.source", "nope"}, {"topics.regex", "("}, {"connection.password", "[hidden]"}} {
		b, _ := json.Marshal(good(kv[0], kv[1]))
		add(hostile{name: "connect put key " + kv[0] + "=" + trim(kv[1]), target: "connect", method: "PUT", path: "/connectors/bad/config",
			headers: connJSON, body: string(b), status: 400})
	}
	for _, n := range []string{"%2E", "%2E%2E", strings.Repeat("n", 300), "tab%09here"} {
		b, _ := json.Marshal(good())
		add(hostile{name: "connect put name " + trim(n), target: "connect", method: "PUT", path: "/connectors/" + n + "/config",
			headers: connJSON, body: string(b), status: 400})
	}
	add(hostile{name: "connect create without content type", target: "connect", method: "POST", path: "/connectors",
		body: connector("x", good()), status: 415})
	add(hostile{name: "connect PUT name in the path is ..", target: "connect", method: "PUT", path: "/connectors/a%2Fb/config",
		headers: connJSON, body: `{"connector.class":"io.kbridge.KeboolaSinkConnector","topics":"events","kbridge.source":"demo"}`, status: 400})

	// Intake: unknown sources and wrong secrets, wrong methods.
	for _, p := range []string{"/stream/1/demo/wrong", "/stream/1/nope/" + strings.Repeat("s", 48), "/stream/999/demo/" + strings.Repeat("s", 48),
		"/stream/1/demo/" + strings.Repeat("s", 5000), "/stream/1/../../etc/passwd", "/stream/1/demo/%00", "/stream/1/%2E%2E/x",
		"/stream/1/demo/😀", "/stream/-1/demo/x"} {
		add(hostile{name: "intake " + trim(p), target: "intake", method: "POST", path: p, headers: connJSON, body: `{}`, status: 404})
	}
	for _, p := range []string{"/stream/abc/demo/x", "/stream/1e3/demo/x"} {
		add(hostile{name: "intake " + p, target: "intake", method: "POST", path: p, headers: connJSON, body: `{}`, status: 400, reason: "project"})
	}

	out = append(out, intakeBodies()...)

	// Requests the server cannot read, on every listener: JSON 400 (431 for headers too large).
	for _, target := range []string{"api", "connect", "metrics", "intake"} {
		for _, c := range []struct {
			name, raw string
			status    int
		}{
			{"garbage request line", "GARBAGE\r\n\r\n", 400},
			{"unknown HTTP version", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400},
			{"unsupported transfer encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
			{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
			{"space in the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
			{"control character in a header", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400},
			{"headers of 2 MB", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", 431},
			{"10,000 headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 200000) + "\r\n", 431},
		} {
			add(hostile{name: target + " " + c.name, target: target, raw: c.raw, status: c.status})
		}
	}
	return out
}

// demoSecret is kbridge dev's demo source secret.
const demoSecret = "demo0000000000000000000000000000000000000000demo"

// intakeBodies are the intake's hostile bodies: gzip bombs, millions of lines, encodings it
// does not decode. Each must be answered without the process growing past corpusRSSLimit.
func intakeBodies() []hostile {
	demo := "/stream/1/demo/" + demoSecret
	ndjson := func(enc string) map[string]string {
		h := map[string]string{"Content-Type": "application/x-ndjson"}
		if enc != "" {
			h["Content-Encoding"] = enc
		}
		return h
	}
	jsonGzip := map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}
	tooMany, tooLarge := "stream.in.tooManyLines", "stream.in.bodyTooLarge"
	var out []hostile
	for _, n := range []int{5_000_000, 1_000_000, 100_001} {
		out = append(out, hostile{name: fmt.Sprintf("intake gzip NDJSON of %d lines of {}", n), target: "intake", method: "POST", path: demo,
			headers: ndjson("gzip"), body: gzipString(strings.Repeat("{}\n", n)), status: 413, errName: tooMany, reason: "100000 records"})
	}
	out = append(out,
		hostile{name: "intake NDJSON of 100,001 lines", target: "intake", method: "POST", path: demo, headers: ndjson(""),
			body: strings.Repeat("{}\n", 100_001), status: 413, errName: tooMany},
		hostile{name: "intake gzip NDJSON of 100,000 lines (the cap)", target: "intake", method: "POST", path: demo + "?verbose=true",
			headers: ndjson("gzip"), body: gzipString(strings.Repeat(`{"a":1}`+"\n", 100_000)), status: 200, reason: "Successfully written"},
		hostile{name: "intake gzip of a 64 MB record", target: "intake", method: "POST", path: demo, headers: jsonGzip,
			body: gzipString(`{"a":"` + strings.Repeat("a", 64<<20) + `"}`), status: 413, errName: tooLarge, reason: "1MB"},
		hostile{name: "intake gzip NDJSON line of 64 MB", target: "intake", method: "POST", path: demo, headers: ndjson("gzip"),
			body: gzipString(`{"a":"` + strings.Repeat("a", 64<<20) + `"}`), status: 413, errName: tooLarge, reason: "Line 1: "},
		hostile{name: "intake gzip NDJSON of 64 MB of blank lines", target: "intake", method: "POST", path: demo, headers: ndjson("gzip"),
			body: gzipString(strings.Repeat("\n", 64<<20)), status: 413, errName: tooLarge, reason: "16MB"},
		hostile{name: "intake gzip NDJSON of 64 MB of spaces", target: "intake", method: "POST", path: demo, headers: ndjson("gzip"),
			body: gzipString(strings.Repeat(" ", 64<<20)), status: 413, errName: tooLarge, reason: "16MB"},
		hostile{name: "intake truncated gzip", target: "intake", method: "POST", path: demo, headers: jsonGzip,
			body: gzipString(`{"a":1}`)[:12], status: 400, errName: "stream.in.badRequest"},
		hostile{name: "intake gzip, gzip", target: "intake", method: "POST", path: demo,
			headers: map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"},
			body:    gzipString(gzipString(`{"a":1}`)), status: 415, errName: "stream.in.unsupportedContentEncoding"},
		hostile{name: "intake deflate", target: "intake", method: "POST", path: demo,
			headers: map[string]string{"Content-Type": "application/json", "Content-Encoding": "deflate"},
			body:    "x", status: 415, errName: "stream.in.unsupportedContentEncoding"},
		hostile{name: "intake NDJSON of blank lines only", target: "intake", method: "POST", path: demo, headers: ndjson(""),
			body: strings.Repeat("\r\n \n", 1000), status: 400, errName: "stream.in.badRequest", reason: "no record"},
	)
	return out
}

// gzipString compresses s.
func gzipString(s string) string {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = io.WriteString(zw, s)
	_ = zw.Close()
	return b.String()
}

// trim shortens a case's value for its name.
func trim(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s…(%d bytes)", s[:30], len(s))
	}
	return s
}
