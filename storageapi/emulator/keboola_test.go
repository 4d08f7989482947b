package emulator_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/kbridge/kbridge/storageapi/emulator"
)

// TestKeboolaClientExchanges replays the exchanges of testdata/keboola/*.txtar: requests shaped
// as Keboola's Go client sends them, and the responses its tests expect, each file citing the
// client source it was taken from. A response matches when every key of the expected JSON is
// in the answer with an equal value; "<any>" matches any value, "<absent>" a missing key and
// "<contains:text>" a string containing text. A 202 job is waited for before the next step.
func TestKeboolaClientExchanges(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "keboola", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no exchanges: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(ar.Comment, []byte("Source: github.com/keboola/")) {
				t.Fatalf("%s does not cite its source", file)
			}
			cfg := testConfig(t)
			cfg.Features = []string{"disable-legacy-bucket-prefix"}
			cfg.Services = []emulator.Service{{ID: "stream", URL: "http://stream.test"}}
			_, base, _ := serve(t, cfg)
			a := newAPI(t, base, masterToken)
			for i := 0; i+1 < len(ar.Files); i += 2 {
				req, resp := ar.Files[i], ar.Files[i+1]
				if !strings.HasSuffix(req.Name, ".request") || !strings.HasSuffix(resp.Name, ".response") {
					t.Fatalf("%s: want N.request then N.response, got %s, %s", file, req.Name, resp.Name)
				}
				replay(t, a, req.Name, req.Data, resp.Data)
			}
		})
	}
}

// replay sends one request ("METHOD PATH", header lines, a blank line, the body) and checks
// the answer ("STATUS", the expected JSON).
func replay(t *testing.T, a *api, name string, request, response []byte) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(request))
	sc.Scan()
	method, path, _ := strings.Cut(sc.Text(), " ")
	headers := map[string]string{"X-StorageApi-Token": masterToken}
	for sc.Scan() && sc.Text() != "" {
		k, v, _ := strings.Cut(sc.Text(), ":")
		headers[k] = strings.TrimSpace(v)
	}
	var body strings.Builder
	for sc.Scan() {
		body.WriteString(sc.Text() + "\n")
	}
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body.Len() > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	statusLine, wantJSON, _ := bytes.Cut(response, []byte("\n"))
	status, _ := strconv.Atoi(strings.TrimSpace(string(statusLine)))
	if res.StatusCode != status {
		t.Fatalf("%s: %s %s = %d %s, want %d", name, method, path, res.StatusCode, data, status)
	}
	var got, want any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%s: answer is not JSON: %v: %s", name, err, data)
	}
	if err := json.Unmarshal(wantJSON, &want); err != nil {
		t.Fatalf("%s: expected JSON: %v", name, err)
	}
	if diff := subsetDiff(want, got, "$"); diff != "" {
		t.Fatalf("%s: %s %s: %s\nanswer: %s", name, method, path, diff, data)
	}
	if job, ok := got.(map[string]any); ok && status == http.StatusAccepted && job["operationName"] != nil {
		waitJob(t, a, job["id"], "success")
	}
}

// subsetDiff describes the first way got does not contain want ("" when it does).
func subsetDiff(want, got any, path string) string {
	if s, ok := want.(string); ok {
		switch {
		case s == "<any>":
			return ""
		case strings.HasPrefix(s, "<contains:"):
			g, _ := got.(string)
			if !strings.Contains(g, strings.TrimSuffix(strings.TrimPrefix(s, "<contains:"), ">")) {
				return fmt.Sprintf("%s is %q, want it to contain %s", path, g, s)
			}
			return ""
		}
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s is %T, want an object", path, got)
		}
		for k, wv := range w {
			gv, present := g[k]
			if wv == "<absent>" {
				if present {
					return fmt.Sprintf("%s.%s is %v, want it absent", path, k, gv)
				}
				continue
			}
			if !present {
				return fmt.Sprintf("%s.%s is missing", path, k)
			}
			if d := subsetDiff(wv, gv, path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s is %v, want %d items", path, got, len(w))
		}
		for i := range w {
			if d := subsetDiff(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s is %v, want %v", path, got, want)
	}
	return ""
}

// TestDataPreviewAsGoClient is go-client's TestPreviewTableRequest
// (pkg/keboola/storage_table_preview_test.go): a table of id,value rows 0..99 previewed with
// two whereFilters and an orderBy on INTEGER data, and limit=0, which go-client always sends
// when no limit is given (previewDataConfig.toQueryParams).
func TestDataPreviewAsGoClient(t *testing.T) {
	t.Parallel()
	_, base, _ := serve(t, testConfig(t))
	a := newAPI(t, base, masterToken)
	a.expect(201, "POST", "/v2/storage/buckets", "name=bucket")
	var job map[string]any
	mustJSON(t, a.expect(202, "POST", "/v2/storage/buckets/in.c-bucket/tables-definition",
		`{"name":"table","primaryKeysNames":["id"],"columns":[{"name":"id"},{"name":"value"}]}`), &job)
	waitJob(t, a, job["id"], "success")
	var half1, half2 strings.Builder
	for i := range 100 {
		if i < 50 {
			fmt.Fprintf(&half1, "%d,%d\n", i, i)
		} else {
			fmt.Fprintf(&half2, "%d,%d\n", i, i)
		}
	}
	var file map[string]any
	mustJSON(t, a.expect(201, "POST", "/v2/storage/files/prepare", `{"name":"file_1","isSliced":true}`), &file)
	uploadSliced(t, a, file, gz(t, half1.String()), []byte(half2.String()))
	mustJSON(t, a.expect(202, "POST", "/v2/storage/tables/in.c-bucket.table/import-async",
		fmt.Sprintf(`{"dataFileId":%v,"withoutHeaders":1,"columns":["id","value"]}`, file["id"])), &job)
	waitJob(t, a, job["id"], "success")

	q := "limit=0&orderBy[0][column]=value&orderBy[0][order]=DESC&orderBy[0][dataType]=INTEGER" +
		"&whereFilters[0][column]=value&whereFilters[0][operator]=ge&whereFilters[0][values][0]=10&whereFilters[0][dataType]=INTEGER" +
		"&whereFilters[1][column]=value&whereFilters[1][operator]=le&whereFilters[1][values][0]=15&whereFilters[1][dataType]=INTEGER"
	records, err := csv.NewReader(bytes.NewReader(a.expect(200, "GET", "/v2/storage/branch/1/tables/in.c-bucket.table/data-preview?"+q, ""))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"id", "value"}, {"15", "15"}, {"14", "14"}, {"13", "13"}, {"12", "12"}, {"11", "11"}, {"10", "10"}}
	if !reflect.DeepEqual(records, want) {
		t.Fatalf("preview = %v, want %v", records, want)
	}
	// Without an order, string comparison, eq with several values and limit=0 as the default 100.
	records, err = csv.NewReader(bytes.NewReader(a.expect(200, "GET", "/v2/storage/tables/in.c-bucket.table/data-preview?limit=0"+
		"&whereFilters[0][column]=id&whereFilters[0][operator]=eq&whereFilters[0][values][0]=7&whereFilters[0][values][1]=70", ""))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"id", "value"}, {"7", "7"}, {"70", "70"}}; !reflect.DeepEqual(records, want) {
		t.Fatalf("preview = %v, want %v", records, want)
	}
	all, err := csv.NewReader(bytes.NewReader(a.expect(200, "GET", "/v2/storage/tables/in.c-bucket.table/data-preview?limit=0", ""))).ReadAll()
	if err != nil || len(all) != 101 {
		t.Fatalf("limit=0 gave %d lines (%v), want the default 100 rows and the header", len(all), err)
	}
	a.expect(400, "GET", "/v2/storage/tables/in.c-bucket.table/data-preview?whereFilters[0][column]=nope&whereFilters[0][values][0]=1", "")
}

// TestBlobPropertiesAsAzureSDK checks what the Azure SDK go-client downloads with
// (pkg/keboola/storage_file_download.go → azblob DownloadStream / GetProperties) reads from
// every Get Blob and Get Blob Properties answer: Last-Modified, ETag and x-ms-creation-time
// (the SDK dereferences them), and the content type the blob was uploaded with.
func TestBlobPropertiesAsAzureSDK(t *testing.T) {
	t.Parallel()
	_, base, _ := serve(t, testConfig(t))
	a := newAPI(t, base, masterToken)
	var file map[string]any
	mustJSON(t, a.expect(201, "POST", "/v2/storage/files/prepare", `{"name":"data.csv"}`), &file)
	p := file["absUploadParams"].(map[string]any)
	var endpoint, sas string
	for _, part := range strings.Split(p["absCredentials"].(map[string]any)["SASConnectionString"].(string), ";") {
		k, v, _ := strings.Cut(part, "=")
		if k == "BlobEndpoint" {
			endpoint = v
		} else if k == "SharedAccessSignature" {
			sas = v
		}
	}
	blob := endpoint + "/" + p["container"].(string) + "/" + p["blobName"].(string) + "?" + sas
	a.expect(201, "PUT", blob, "a,b\n", "x-ms-blob-type", "BlockBlob", "x-ms-blob-content-type", "text/csv")
	for _, method := range []string{"GET", "HEAD"} {
		status, h, _ := a.call(method, blob, "")
		if status != 200 {
			t.Fatalf("%s blob = %d", method, status)
		}
		for _, k := range []string{"Last-Modified", "ETag", "x-ms-creation-time"} {
			if h.Get(k) == "" {
				t.Errorf("%s blob: no %s header", method, k)
			}
		}
		if _, err := http.ParseTime(h.Get("x-ms-creation-time")); err != nil {
			t.Errorf("%s blob: x-ms-creation-time %q: %v", method, h.Get("x-ms-creation-time"), err)
		}
		if ct := h.Get("Content-Type"); ct != "text/csv" {
			t.Errorf("%s blob: Content-Type %q, want the uploaded text/csv", method, ct)
		}
	}
	_, first, _ := a.call("HEAD", blob, "")
	a.expect(201, "PUT", blob, "a,b\n1,2\n", "x-ms-blob-type", "BlockBlob")
	_, second, _ := a.call("HEAD", blob, "")
	if first.Get("ETag") == second.Get("ETag") || first.Get("x-ms-creation-time") != second.Get("x-ms-creation-time") {
		t.Fatalf("overwritten blob: ETag %s → %s (want a new one), created %s → %s (want kept)",
			first.Get("ETag"), second.Get("ETag"), first.Get("x-ms-creation-time"), second.Get("x-ms-creation-time"))
	}
	if ct := second.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("blob uploaded without a content type: %q, want Azure's application/octet-stream", ct)
	}
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
}
