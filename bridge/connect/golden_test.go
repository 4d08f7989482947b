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
	"reflect"
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
// source (http://intake.example/stream/1/events/<secret>). A response is the status, a
// "Location: …" line when one is sent ({{base}} standing for the API's URL), and the body, JSON compared re-indented. A "response subset" is compared the same
// way except that its JSON body need only be contained in the answer's: an object's keys
// are a subset, an array's items each match a distinct item. With -update the responses
// (not the subsets) are rewritten from the actual answers.
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
		if req.Name != "request" || want.Name != "response" && want.Name != "response subset" {
			t.Fatalf("file %d: want a request and a response, got %q and %q", i, req.Name, want.Name)
		}
		got := e.exchange(t, string(req.Data))
		if want.Name == "response subset" {
			if !subsetAnswer(got, string(want.Data)) {
				line, _, _ := strings.Cut(string(req.Data), "\n")
				t.Errorf("exchange %d: %s\ngot:\n%s\nwant a superset of:\n%s", i/2+1, line, got, want.Data)
			}
			continue
		}
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
	req.SetBasicAuth(testAuth.AdminUsername, testAuth.AdminPassword) // a line "Authorization: ..." replaces it
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

// subsetAnswer compares an answer with a "response subset": the lines before the JSON body
// equal, the body contained.
func subsetAnswer(got, want string) bool {
	gotHead, gotBody := splitAnswer(got)
	wantHead, wantBody := splitAnswer(want)
	if gotHead != wantHead {
		return false
	}
	var g, w any
	if json.Unmarshal([]byte(gotBody), &g) != nil || json.Unmarshal([]byte(wantBody), &w) != nil {
		return gotBody == wantBody
	}
	return contains(g, w)
}

func splitAnswer(s string) (head, body string) {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "{") || strings.HasPrefix(l, "[") {
			return strings.Join(lines[:i], ""), strings.Join(lines[i:], "")
		}
	}
	return s, ""
}

func contains(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if gv, ok := g[k]; !ok || !contains(gv, v) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok {
			return false
		}
		used := make([]bool, len(g))
	items:
		for _, wv := range w {
			for i, gv := range g {
				if !used[i] && contains(gv, wv) {
					used[i] = true
					continue items
				}
			}
			return false
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}
