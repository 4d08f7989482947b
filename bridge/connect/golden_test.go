package connect_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the expected responses of testdata/*.txtar")

// TestGolden replays each testdata/<scenario>.txtar against a fresh cluster, emulator, sink
// manager and Connect API. The archive holds "request" and "response" files in turn. A
// request is "METHOD /path", header lines ("Name: value"), a blank line and the body; the
// body is sent as Content-Type application/json unless a Content-Type line says otherwise
// ("Content-Type: -" sends none); {{url}} in a body is the intake URL prefix of the test's
// source (http://intake.example/stream/1/events/<secret>). A response is the status, an
// "Allow: …" and a "Location: …" line when they are sent ({{base}} standing for the API's
// URL), and the body, JSON compared re-indented. With -update the responses are rewritten
// from the actual answers.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			runScenario(t, file)
		})
	}
}

func runScenario(t *testing.T, file string) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.start()
	for i := 0; i+1 < len(ar.Files); i += 2 {
		req, want := ar.Files[i], &ar.Files[i+1]
		if req.Name != "request" || want.Name != "response" {
			t.Fatalf("file %d: want a request and a response, got %q and %q", i, req.Name, want.Name)
		}
		got := e.exchange(t, string(req.Data))
		if *update {
			want.Data = []byte(got)
			continue
		}
		if got != string(want.Data) {
			line, _, _ := strings.Cut(string(req.Data), "\n")
			t.Errorf("exchange %d: %s\ngot:\n%s\nwant:\n%s", i/2+1, line, got, want.Data)
		}
	}
	if *update {
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// exchange sends a request in the scenario format and returns the answer in that format.
func (e *env) exchange(t *testing.T, text string) string {
	t.Helper()
	head, body, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(strings.TrimSpace(head), "\n")
	method, path, _ := strings.Cut(strings.TrimSpace(lines[0]), " ")
	body = strings.ReplaceAll(strings.TrimSpace(body), "{{url}}", "http://intake.example/stream/1/events/"+secret)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, line := range lines[1:] {
		name, value, _ := strings.Cut(line, ":")
		if value = strings.TrimSpace(value); value == "-" {
			req.Header.Del(name)
		} else {
			req.Header.Set(name, value)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%d\n", resp.StatusCode)
	if allow := resp.Header.Get("Allow"); allow != "" {
		out += "Allow: " + allow + "\n"
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		out += "Location: " + strings.Replace(loc, e.url, "{{base}}", 1) + "\n"
	}
	return out + indent(data)
}

func indent(data []byte) string {
	if len(bytes.TrimSpace(data)) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return string(data) + "\n"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return b.String()
}
