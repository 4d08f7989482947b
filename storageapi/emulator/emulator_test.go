package emulator_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi/emulator"
)

// setupOrders creates in.c-shop.orders (id primary key, payload) through raw HTTP.
func setupOrders(t *testing.T, a *api) {
	t.Helper()
	a.expect(201, "POST", "/v2/storage/buckets", "name=shop")
	var job map[string]any
	body := `{"name":"orders","primaryKeysNames":["id"],"columns":[{"name":"id"},{"name":"payload"}]}`
	if err := json.Unmarshal(a.expect(202, "POST", "/v2/storage/buckets/in.c-shop/tables-definition", body), &job); err != nil {
		t.Fatal(err)
	}
	waitJob(t, a, job["id"], "success")
}

// startImport prepares a sliced file with the slices and starts an incremental import.
func startImport(t *testing.T, a *api, slice1, slice2 string) map[string]any {
	t.Helper()
	var file, job map[string]any
	if err := json.Unmarshal(a.expect(201, "POST", "/v2/storage/files/prepare", `{"name":"f","isSliced":true,"tags":null}`), &file); err != nil {
		t.Fatal(err)
	}
	uploadSliced(t, a, file, gz(t, slice1), []byte(slice2))
	body := fmt.Sprintf(`{"dataFileId":%v,"incremental":1,"withoutHeaders":1,"columns":["id","payload"]}`, file["id"])
	if err := json.Unmarshal(a.expect(202, "POST", "/v2/storage/tables/in.c-shop.orders/import-async", body), &job); err != nil {
		t.Fatal(err)
	}
	return job
}

func TestRestartKeepsStateAndResumesJobs(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	_, base, stop := serve(t, cfg)
	a := newAPI(t, base, masterToken)
	setupOrders(t, a)
	waitJob(t, a, startImport(t, a, "1,a\n", "2,b\n")["id"], "success")

	// A job still waiting when the process stops is run by the next one.
	slow := cfg
	slow.JobDelay = time.Hour
	stop()
	_, base, stop = serve(t, slow)
	a = newAPI(t, base, masterToken)
	job := startImport(t, a, "2,B\n", "3,c\n")
	stop()

	_, base, _ = serve(t, cfg)
	a = newAPI(t, base, masterToken)
	waitJob(t, a, job["id"], "success")
	got := string(a.expect(200, "GET", "/v2/storage/tables/in.c-shop.orders/data-preview", ""))
	if want := "\"id\",\"payload\"\n\"1\",\"a\"\n\"2\",\"B\"\n\"3\",\"c\"\n"; got != want {
		t.Fatalf("after restarts:\n%s\nwant:\n%s", got, want)
	}
	a.expect(200, "GET", "/v2/storage/buckets/in.c-shop", "")
}

func TestAdminFaultEndpoint(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Tokens = []emulator.TokenConfig{{Token: "writer", BucketPermissions: map[string]string{"in.c-shop": "write"}}}
	_, base, _ := serve(t, cfg)
	a := newAPI(t, base, masterToken)
	setupOrders(t, a)

	a.expect(204, "POST", "/emulator/faults", `{"endpoint":"getBucket","count":2,"status":503,"retryAfter":3}`)
	for i := range 2 {
		status, header, body := a.call("GET", "/v2/storage/buckets/in.c-shop", "")
		if status != 503 || header.Get("Retry-After") != "3" || !strings.Contains(string(body), `"code":"storage.maintenance"`) {
			t.Fatalf("call %d under fault = %d %v %s", i, status, header, body)
		}
	}
	a.expect(200, "GET", "/v2/storage/buckets/in.c-shop", "")

	a.expect(204, "POST", "/emulator/faults", "endpoint=index&hang=100ms")
	start := time.Now()
	a.expect(200, "GET", "/v2/storage", "")
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("hanging index answered after %s", took)
	}

	var listed struct {
		Calls     map[string]int `json:"calls"`
		Endpoints []string       `json:"endpoints"`
	}
	if err := json.Unmarshal(a.expect(200, "GET", "/emulator/faults", ""), &listed); err != nil {
		t.Fatal(err)
	}
	if listed.Calls["getBucket"] != 3 || len(listed.Endpoints) == 0 {
		t.Fatalf("fault listing = %+v", listed)
	}

	a.expect(400, "POST", "/emulator/faults", `{"endpoint":"nope","status":500}`)
	a.expect(400, "POST", "/emulator/faults", `{"endpoint":"index"}`)
	writer := newAPI(t, base, "writer")
	writer.expect(403, "POST", "/emulator/faults", `{"endpoint":"index","status":500}`)

	a.expect(204, "POST", "/emulator/faults/jobs", `{"fail":1,"message":"boom"}`)
	waitJob(t, a, startImport(t, a, "1,a\n", "2,b\n")["id"], "error")
	waitJob(t, a, startImport(t, a, "1,a\n", "2,b\n")["id"], "success")

	a.expect(204, "POST", "/emulator/faults/expire-credentials", "")
	var file map[string]any
	if err := json.Unmarshal(a.expect(200, "GET", "/v2/storage/files?limit=1", ""), &[]any{&file}); err != nil {
		t.Fatal(err)
	}
	status, header, body := a.call("GET", file["url"].(string), "")
	if status != 403 || header.Get("x-ms-error-code") != "AuthenticationFailed" || !strings.Contains(string(body), "<Code>AuthenticationFailed</Code>") {
		t.Fatalf("blob read with expired credentials = %d %v %s", status, header, body)
	}
	a.expect(204, "DELETE", "/emulator/faults", "")
	a.expect(200, "GET", file["url"].(string), "")
}

func TestBlobEndpoint(t *testing.T) {
	t.Parallel()
	_, base, _ := serve(t, testConfig(t))
	a := newAPI(t, base, masterToken)
	var file map[string]any
	if err := json.Unmarshal(a.expect(201, "POST", "/v2/storage/files/prepare", `{"name":"plain.csv"}`), &file); err != nil {
		t.Fatal(err)
	}
	url := file["url"].(string)
	a.expect(201, "PUT", url, "id\n1\n", "x-ms-blob-type", "BlockBlob")
	if got := string(a.expect(200, "GET", url, "")); got != "id\n1\n" {
		t.Fatalf("blob = %q", got)
	}
	if got := string(a.expect(206, "GET", url, "", "x-ms-range", "bytes=3-4")); got != "1\n" {
		t.Fatalf("range = %q", got)
	}
	cases := map[string]struct {
		url, code string
		status    int
	}{
		"forged signature":  {strings.Replace(url, "sig=", "sig=AAAA", 1), "AuthenticationFailed", 403},
		"unknown container": {strings.Replace(url, "exp-15-files-", "exp-15-files-9", 1), "ContainerNotFound", 404},
		"missing blob":      {strings.Replace(url, "plain.csv", "other.csv", 1), "BlobNotFound", 404},
	}
	for name, tc := range cases {
		status, header, _ := a.call("GET", tc.url, "")
		if status != tc.status || header.Get("x-ms-error-code") != tc.code {
			t.Errorf("%s: %d %s, want %d %s", name, status, header.Get("x-ms-error-code"), tc.status, tc.code)
		}
	}
	a.expect(400, "PUT", url+"&comp=blocklist", "<BlockList><Latest>bm9wZQ==</Latest></BlockList>")
	a.expect(400, "GET", "/v2/storage/tables/in.c-x.y/data-preview?limit=1001", "")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mutate func(*emulator.Config)
		key    string
	}{
		"no data dir":       {func(c *emulator.Config) { c.DataDir = "" }, "dataDir"},
		"no token":          {func(c *emulator.Config) { c.MasterToken = "" }, "token"},
		"negative delay":    {func(c *emulator.Config) { c.JobDelay = -time.Second }, "jobDelay"},
		"bad public url":    {func(c *emulator.Config) { c.PublicURL = "localhost" }, "publicURL"},
		"duplicate token":   {func(c *emulator.Config) { c.Tokens = []emulator.TokenConfig{{Token: c.MasterToken}} }, "tokens[0].token"},
		"no credential ttl": {func(c *emulator.Config) { c.CredentialsTTL = 0 }, "credentialsTTL"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			tc.mutate(&cfg)
			if _, err := emulator.New(cfg); err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("New = %v, want an error naming %s", err, tc.key)
			}
		})
	}
}
