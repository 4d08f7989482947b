package emulator_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	timestampRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$`)
	idRe        = regexp.MustCompile(`\b1\d{3,}\b`)
	sasRe       = regexp.MustCompile(`(st|se|sig)=[^&;"]+`)
)

// normalize replaces volatile values: ids, timestamps, the listener address, signatures.
func normalize(v any, key, base string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = normalize(val, k, base)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalize(val, key, base)
		}
		return out
	case float64:
		if key == "id" || key == "fileId" {
			return "<id>"
		}
	case string:
		switch {
		case key == "exceptionId":
			return "<exception>"
		case key == "uuid":
			return "<uuid>"
		case timestampRe.MatchString(x):
			return "<time>"
		}
		x = strings.ReplaceAll(x, base, "http://emulator")
		x = sasRe.ReplaceAllString(x, "$1=<$1>")
		return idRe.ReplaceAllString(x, "<id>")
	}
	return v
}

// checkGolden compares a normalized JSON response with testdata/<name>.json.
func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	path := filepath.Join("testdata", name+".json")
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with -update to create it)", path, err)
	}
	var want any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("golden %s: %v", path, err)
	}
	if !reflect.DeepEqual(got, want) {
		gotJSON, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("%s differs from %s:\n%s", name, path, gotJSON)
	}
}

// checkShape asserts that every key of the reference example exists in got with the
// same JSON type, recursively (first elements of arrays); null in the reference matches anything.
func checkShape(t *testing.T, ref string, got any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "reference", ref+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("reference %s: %v", ref, err)
	}
	if diff := shapeDiff(want, got, ref); diff != "" {
		t.Fatalf("response does not have the shape of reference example %s: %s", ref, diff)
	}
}

func shapeDiff(want, got any, path string) string {
	if want == nil {
		return ""
	}
	if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
		return fmt.Sprintf("%s is %T, want %T", path, got, want)
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s is missing", path, k)
			}
			if d := shapeDiff(wv, gv, path+"."+k); d != "" {
				return d
			}
		}
	case []any:
		if g := got.([]any); len(w) > 0 && len(g) > 0 {
			return shapeDiff(w[0], g[0], path+"[0]")
		}
	}
	return ""
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestResponsesMatchReference walks the endpoints a streaming client uses with raw HTTP,
// compares each response with its golden file and with the reference example's shape.
func TestResponsesMatchReference(t *testing.T) {
	em, base, _ := serve(t, testConfig(t))
	a := newAPI(t, base, masterToken)
	exchange := func(name, ref string, status int, method, path, body string) map[string]any {
		t.Helper()
		var got any
		if err := json.Unmarshal(a.expect(status, method, path, body), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkGolden(t, name, normalize(got, "", base))
		if ref != "" {
			checkShape(t, ref, got)
		}
		m, _ := got.(map[string]any)
		return m
	}
	exchange("index", "index", 200, "GET", "/v2/storage?exclude=components", "")
	exchange("verify-token", "verify-token", 200, "GET", "/v2/storage/tokens/verify", "")
	exchange("dev-branches", "dev-branches", 200, "GET", "/v2/storage/dev-branches", "")
	exchange("bucket-create", "bucket", 201, "POST", "/v2/storage/buckets", "name=shop&stage=in")
	exchange("bucket-not-found", "error", 404, "GET", "/v2/storage/branch/1/buckets/in.c-nope", "")
	job := exchange("table-create-job", "", 202, "POST", "/v2/storage/branch/1/buckets/in.c-shop/tables-definition",
		`{"name":"orders","primaryKeysNames":["id"],"columns":[{"name":"id","basetype":"STRING"},{"name":"payload","basetype":"STRING"}]}`)
	waitJob(t, a, job["id"], "success")
	exchange("table", "", 200, "GET", "/v2/storage/tables/in.c-shop.orders", "")
	exchange("table-not-found", "error", 404, "GET", "/v2/storage/tables/in.c-shop.nope", "")

	file := exchange("file-prepare", "file-prepare", 201, "POST", "/v2/storage/branch/1/files/prepare",
		`{"name":"src1_sink1_20240501120000","federationToken":true,"isEncrypted":true,"isSliced":true,"tags":["stream.sourceID=src1","stream.sinkID=sink1"]}`)
	uploadSliced(t, a, file, gz(t, "1,\"{\"\"a\"\":1}\"\n"), []byte("2,\"{\"\"a\"\":2}\"\n"))
	importBody := fmt.Sprintf(`{"dataFileId":%v,"incremental":1,"withoutHeaders":1,"columns":["id","payload"]}`, file["id"])
	job = exchange("import-job-waiting", "job-import-waiting", 202, "POST", "/v2/storage/tables/in.c-shop.orders/import-async", importBody)
	waitJob(t, a, job["id"], "success")
	exchange("import-job-success", "job-import-success", 200, "GET", fmt.Sprintf("/v2/storage/jobs/%v", job["id"]), "")
	exchange("table-after-import", "table", 200, "GET", "/v2/storage/tables/in.c-shop.orders", "")

	csv := a.expect(200, "GET", "/v2/storage/tables/in.c-shop.orders/data-preview", "")
	if want := "\"id\",\"payload\"\n\"1\",\"{\"\"a\"\":1}\"\n\"2\",\"{\"\"a\"\":2}\"\n"; string(csv) != want {
		t.Fatalf("data-preview rfc:\n%s\nwant:\n%s", csv, want)
	}
	exchange("data-preview-json", "data-preview", 200, "GET", "/v2/storage/tables/in.c-shop.orders/data-preview?format=json&limit=1", "")
	exchange("event-create", "event-created", 201, "POST", "/v2/storage/events",
		`{"component":"keboola.stream.fileImport","message":"File import done.","type":"info","params":"{\"sinkId\":\"sink1\"}","results":{"statistics":{"recordsCount":2}}}`)
	var events []any
	if err := json.Unmarshal(a.expect(200, "GET", "/v2/storage/tables/in.c-shop.orders/events?limit=1", ""), &events); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "table-events", normalize(events, "", base))
	checkShape(t, "table-events", any(events))

	em.FailJobs(1, "Some columns are missing in the CSV file")
	job = exchange("import-job-waiting-2", "job-import-waiting", 202, "POST", "/v2/storage/tables/in.c-shop.orders/import-async", importBody)
	waitJob(t, a, job["id"], "error")
	exchange("import-job-error", "job-import-error", 200, "GET", fmt.Sprintf("/v2/storage/jobs/%v", job["id"]), "")
	exchange("file-detail", "", 200, "GET", fmt.Sprintf("/v2/storage/files/%v?federationToken=1", file["id"]), "")

	a.token = "wrong"
	exchange("token-invalid", "error", 401, "GET", "/v2/storage/tokens/verify", "")
}

// uploadSliced uploads the first slice with Put Block + Put Block List, the second with
// Put Blob, then the manifest, all through the SAS connection string.
func uploadSliced(t *testing.T, a *api, file map[string]any, slice1, slice2 []byte) {
	t.Helper()
	p := file["absUploadParams"].(map[string]any)
	conn := p["absCredentials"].(map[string]any)["SASConnectionString"].(string)
	var endpoint, sas string
	for _, part := range strings.Split(conn, ";") {
		k, v, _ := strings.Cut(part, "=")
		if k == "BlobEndpoint" {
			endpoint = v
		} else if k == "SharedAccessSignature" {
			sas = v
		}
	}
	prefix := endpoint + "/" + p["container"].(string) + "/" + p["blobName"].(string)
	blob := func(name, query string) string { return prefix + name + "?" + query + sas }
	ids := []string{base64.StdEncoding.EncodeToString([]byte("block-000")), base64.StdEncoding.EncodeToString([]byte("block-001"))}
	half := len(slice1) / 2
	a.expect(201, "PUT", blob("s1.csv.gz", "comp=block&blockid="+ids[0]+"&"), string(slice1[:half]), "x-ms-version", "2021-08-06")
	a.expect(201, "PUT", blob("s1.csv.gz", "comp=block&blockid="+ids[1]+"&"), string(slice1[half:]), "x-ms-version", "2021-08-06")
	blockList := `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>` + ids[0] + `</Latest><Latest>` + ids[1] + `</Latest></BlockList>`
	a.expect(201, "PUT", blob("s1.csv.gz", "comp=blocklist&"), blockList, "x-ms-version", "2021-08-06")
	a.expect(201, "PUT", blob("s2.csv", ""), string(slice2), "x-ms-blob-type", "BlockBlob")
	host := "azure://" + p["accountName"].(string) + ".blob.core.windows.net/" + p["container"].(string) + "/" + p["blobName"].(string)
	manifest := `{"entries":[{"url":"` + host + `s1.csv.gz"},{"url":"` + host + `s2.csv"}]}`
	a.expect(201, "PUT", blob("manifest", ""), manifest, "x-ms-blob-type", "BlockBlob")
}

// waitJob polls the job until it reaches a final status, which must be want.
func waitJob(t *testing.T, a *api, id any, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var job map[string]any
		if err := json.Unmarshal(a.expect(200, "GET", fmt.Sprintf("/v2/storage/jobs/%v", id), ""), &job); err != nil {
			t.Fatal(err)
		}
		switch job["status"] {
		case "success", "error":
			if job["status"] != want {
				t.Fatalf("job %v ended %v, want %s: %v", id, job["status"], want, job)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("job %v did not finish", id)
}
