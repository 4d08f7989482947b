package streamapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi/emulator"
)

// TestEndToEnd creates a source and a sink through the Stream API, posts events to the
// source's URL over real HTTP (single records, gzip and an NDJSON batch) and waits until
// they are rows of the emulator's table.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.call(t, "POST", "/v1/branches/default/sources", `{"name":"Web Events","type":"http"}`, 202)
	// The source's settings apply to the sink created next: upload and import once all
	// events are there (a sink's own settings change would rotate its file).
	const events = 6
	e.call(t, "PATCH", "/v1/branches/default/sources/web-events/settings", fmt.Sprintf(`{"settings":[
		{"key":"storage.level.staging.upload.trigger.count","value":%d},
		{"key":"storage.level.target.import.trigger.count","value":%d}]}`, events, events), 202)
	e.call(t, "POST", "/v1/branches/default/sources/web-events/sinks", `{"name":"Clicks","type":"table",
		"table":{"type":"keboola","tableId":"in.c-web.clicks","mapping":{"columns":[
			{"type":"path","name":"id","path":"id","rawString":true,"primaryKey":true},
			{"type":"path","name":"page","path":"page.url","rawString":true},
			{"type":"template","name":"agent","template":{"language":"jsonnet","content":"Header(\"User-Agent\", \"none\")"},"rawString":true}]}}}`, 202)
	var src struct{ HTTP struct{ URL string } }
	if err := json.Unmarshal(e.call(t, "GET", "/v1/branches/default/sources/web-events", "", 200), &src); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(src.HTTP.URL, e.intakeURL+"/stream/1/web-events/") {
		t.Fatalf("source url %q", src.HTTP.URL)
	}
	for i := 1; i <= 3; i++ {
		post(t, src.HTTP.URL, "application/json", fmt.Sprintf(`{"id":"e%d","page":{"url":"/p/%d"}}`, i, i), false, 200)
	}
	post(t, src.HTTP.URL, "application/json; charset=utf-8", `{"id":"e4","page":{"url":"/p/4"}}`, true, 200)
	post(t, src.HTTP.URL, "application/x-ndjson", "{\"id\":\"e5\",\"page\":{\"url\":\"/p/5\"}}\n{\"id\":\"e6\",\"page\":{\"url\":\"/p/6\"}}\n", false, 200)
	post(t, src.HTTP.URL, "application/json", `{"id":"bad"}`, false, 422)

	deadline := time.Now().Add(30 * time.Second)
	for {
		rows := e.tableRows(t, "in.c-web.clicks")
		if len(rows) == events {
			want := []string{"e1,/p/1,kbridge-test", "e2,/p/2,kbridge-test", "e3,/p/3,kbridge-test", "e4,/p/4,kbridge-test", "e5,/p/5,kbridge-test", "e6,/p/6,kbridge-test"}
			if strings.Join(rows, "\n") != strings.Join(want, "\n") {
				t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("table has %d rows, want %d: %q", len(rows), events, rows)
		}
		time.Sleep(20 * time.Millisecond) // polling the emulator's table file
	}
	var stats struct{ Total struct{ RecordsCount int } }
	if err := json.Unmarshal(e.call(t, "GET", "/v1/branches/default/sources/web-events/sinks/clicks/statistics/total", "", 200), &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Total.RecordsCount != events {
		t.Fatalf("statistics count %d records, want %d", stats.Total.RecordsCount, events)
	}
}

// call sends an authenticated API request and checks the status.
func (e *env) call(t *testing.T, method, path, body string, want int) []byte {
	t.Helper()
	return []byte(e.as(t, masterToken, method, path, body, want))
}

// post sends an event the way curl does.
func post(t *testing.T, url, contentType, body string, gz bool, want int) {
	t.Helper()
	data := []byte(body)
	req, err := http.NewRequestWithContext(context.Background(), "POST", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gz {
		data = gzipped(t, data)
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "kbridge-test")
	send(t, req, want)
}

func send(t *testing.T, req *http.Request, want int) []byte {
	t.Helper()
	_, data := exchange(t, req, want)
	return data
}

// exchange sends req, checks the status and returns the answer's header and body.
func exchange(t *testing.T, req *http.Request, want int) (http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, data)
	}
	return resp.Header, data
}

// tableRows reads the emulator's table: rows without the header, joined by commas and
// sorted.
func (e *env) tableRows(t *testing.T, tableID string) []string {
	records, err := emulator.ReadTableRows(e.emDir, tableID)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range records {
		out = append(out, strings.Join(r, ","))
	}
	sort.Strings(out)
	return out
}

func gzipped(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
