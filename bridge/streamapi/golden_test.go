package streamapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the expected responses of testdata/*.txtar")

// The intake's fasthttp server refreshes its Date header line in a goroutine of its own, once
// per process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

// TestGolden replays each testdata/<scenario>.txtar against a fresh emulator, sink manager and
// API: the archive holds "request" and "response" files in turn. A request is
// "METHOD /path", header lines, a blank line and the body; {{token}} and {{readToken}} are
// the emulator's master and read-only tokens, {{taskId}} the last task id answered. A response is the status on the first line and
// the body (JSON compared after normalisation, else text). Volatile values are normalised in
// the actual body: timestamps → <time>, secrets → <secret>, task id suffixes → <random>,
// exception ids → <exceptionId>, durations → <duration>. With -update the responses are
// rewritten from the actual answers.
func TestGolden(t *testing.T) {
	t.Parallel()
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
	e := newEnv(t, false)
	e.vars = map[string]string{"{{token}}": masterToken, "{{readToken}}": readToken}
	for i := 0; i+1 < len(ar.Files); i += 2 {
		req, want := ar.Files[i], &ar.Files[i+1]
		if req.Name != "request" || want.Name != "response" {
			t.Fatalf("file %d: want a request and a response, got %q and %q", i, req.Name, want.Name)
		}
		status, body := e.do(t, string(req.Data))
		got := fmt.Sprintf("%d\n%s", status, body)
		if *update {
			want.Data = []byte(got)
			continue
		}
		if exp := normaliseExpected(t, string(want.Data)); got != exp {
			t.Errorf("exchange %d: %s\ngot:\n%s\nwant:\n%s", i/2+1, firstLine(string(req.Data)), got, exp)
		}
	}
	if *update {
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// do sends a request written in the scenario format and returns the status and the
// normalised body.
func (e *env) do(t *testing.T, raw string) (int, string) {
	t.Helper()
	for k, v := range e.vars {
		raw = strings.ReplaceAll(raw, k, v)
	}
	head, body, _ := strings.Cut(raw, "\n\n")
	sc := bufio.NewScanner(strings.NewReader(head))
	sc.Scan()
	method, path, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
	req, err := http.NewRequestWithContext(context.Background(), method, e.url+path, strings.NewReader(strings.TrimSuffix(body, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var task struct{ TaskID string }
	if json.Unmarshal(data, &task) == nil && task.TaskID != "" {
		e.vars["{{taskId}}"] = task.TaskID
	}
	return resp.StatusCode, normalise(t, data)
}

var (
	reTime      = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)
	reSecret    = regexp.MustCompile(`/stream/(\d+)/([^/]+)/[0-9a-zA-Z]{48}$`)
	reTaskID    = regexp.MustCompile(`(api\.[a-zA-Z.]+/[^"]+)/[0-9a-z]{16}$`)
	reException = regexp.MustCompile(`^kbridge-stream-api-[0-9a-z]{16}$`)
	reLocalURL  = regexp.MustCompile(`^http://127\.0\.0\.1:\d+`)
)

// normalise pretty-prints a JSON body with volatile values replaced; other bodies are
// returned as they are.
func normalise(t *testing.T, data []byte) string {
	var v any
	if len(bytes.TrimSpace(data)) == 0 || json.Unmarshal(data, &v) != nil {
		return string(data)
	}
	return indent(t, walk("", v))
}

// indent writes v as indented JSON without HTML escaping.
func indent(t *testing.T, v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func walk(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = walk(k, val)
		}
	case []any:
		for i := range x {
			x[i] = walk("", x[i])
		}
	case float64:
		if key == "duration" {
			return "<duration>"
		}
	case string:
		x = reLocalURL.ReplaceAllString(x, "<local>")
		x = reSecret.ReplaceAllString(x, "/stream/$1/$2/<secret>")
		x = reTaskID.ReplaceAllString(x, "$1/<random>")
		switch {
		case reTime.MatchString(x):
			return "<time>"
		case reException.MatchString(x):
			return "<exceptionId>"
		}
		return x
	}
	return v
}

// normaliseExpected re-indents an expected JSON body so its layout does not matter.
func normaliseExpected(t *testing.T, s string) string {
	status, body, _ := strings.Cut(s, "\n")
	if _, err := strconv.Atoi(status); err != nil {
		t.Fatalf("response must start with a status, got %q", status)
	}
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return s
	}
	return status + "\n" + indent(t, v)
}
