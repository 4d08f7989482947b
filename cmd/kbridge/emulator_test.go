package main_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/storageapi"
)

// binDir holds the kbridge binary built once for all tests; removed by TestMain.
var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	if os.Getenv(brokerChildEnv) != "" {
		os.Exit(brokerChild())
	}
	if os.Getenv(plainChildEnv) != "" {
		os.Exit(plainConsumer())
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildKbridge compiles ./cmd/kbridge once and returns the binary's path.
func buildKbridge(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "kbridge-test-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "kbridge"), ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "kbridge")
}

// startEmulatorProcess runs `kbridge emulator` on a free port and returns its URL.
func startEmulatorProcess(t *testing.T, bin, dataDir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "emulator", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--job-delay", "50ms")
	cmd.Env = append(os.Environ(), "KBRIDGE_EMULATOR_TOKEN=script-token")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() { // ends when the process closes stdout
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		_, rest, ok := strings.Cut(line, "listening on ")
		if !ok {
			t.Fatalf("unexpected first line %q; stderr: %s", line, stderr.String())
		}
		return cmd, strings.Fields(rest)[0]
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("emulator did not start; stderr: %s", stderr.String())
	}
	return nil, ""
}

// startRunStack starts what a test of `kbridge run` needs: the binary, a temporary directory,
// `kbridge emulator` on a free port (token script-token) and, unless partitions is 0, a kfake
// cluster with topic; all of them end with the test.
func startRunStack(t *testing.T, partitions int32, topic string) (bin, dir, storageURL string, cluster *kfake.Cluster) {
	t.Helper()
	bin, dir = buildKbridge(t), t.TempDir()
	em, storageURL := startEmulatorProcess(t, bin, filepath.Join(dir, "emulator"))
	t.Cleanup(func() { _ = em.Process.Kill(); _ = em.Wait() })
	if partitions == 0 {
		return bin, dir, storageURL, nil
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return bin, dir, storageURL, cluster
}

// curl sends a request the way the curl lines in docs/storage-emulator.md do.
func curl(t *testing.T, method, u, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-StorageApi-Token", "script-token")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

func TestEmulatorCommandEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kbridge binary")
	}
	dir := t.TempDir()
	bin := buildKbridge(t)
	cmd, base := startEmulatorProcess(t, bin, filepath.Join(dir, "data"))
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	jobID := createTableWithCurl(t, base)
	importWithClient(t, base, jobID)

	want := "\"id\",\"payload\"\n\"1\",\"{\"\"a\"\":1}\"\n\"2\",\"{\"\"a\"\":2}\"\n"
	if status, body := curl(t, "GET", base+"/v2/storage/tables/in.c-shop.orders/data-preview", "", ""); status != 200 || string(body) != want {
		t.Fatalf("data-preview: %d\n%s", status, body)
	}
	out, err := exec.Command(bin, "emulator", "preview", "--url", base, "--token", "script-token", "in.c-shop.orders").CombinedOutput()
	if err != nil || string(out) != want {
		t.Fatalf("kbridge emulator preview: %v\n%s", err, out)
	}
	tables := exec.Command(bin, "emulator", "tables")
	tables.Env = append(os.Environ(), "KBRIDGE_EMULATOR_URL="+base, "KBRIDGE_EMULATOR_TOKEN=script-token")
	out, err = tables.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "in.c-shop.orders") || !strings.Contains(string(out), "  2  ") {
		t.Fatalf("kbridge emulator tables: %v\n%s", err, out)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("emulator exited with %v after SIGINT", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not shut down within 10 s of SIGINT")
	}
}

func TestEmulatorCommandUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kbridge binary")
	}
	bin := buildKbridge(t)
	cmd := exec.Command(bin, "emulator", "preview")
	out, err := cmd.CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() != 2 || !strings.Contains(string(out), "usage: kbridge emulator preview") {
		t.Fatalf("preview without a table: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "emulator", "--job-delay", "soon")
	if err := cmd.Run(); err == nil {
		t.Fatal("a bad --job-delay was accepted")
	}
}

// createTableWithCurl creates in.c-shop.orders with form and JSON bodies and returns the job id.
func createTableWithCurl(t *testing.T, base string) int64 {
	t.Helper()
	if status, body := curl(t, "POST", base+"/v2/storage/buckets", "application/x-www-form-urlencoded", url.Values{"name": {"shop"}, "stage": {"in"}}.Encode()); status != 201 {
		t.Fatalf("create bucket: %d %s", status, body)
	}
	status, body := curl(t, "POST", base+"/v2/storage/buckets/in.c-shop/tables-definition", "application/json",
		`{"name":"orders","primaryKeysNames":["id"],"columns":[{"name":"id","basetype":"STRING"},{"name":"payload","basetype":"STRING"}]}`)
	var job struct{ ID int64 }
	if status != 202 || json.Unmarshal(body, &job) != nil {
		t.Fatalf("create table: %d %s", status, body)
	}
	return job.ID
}

// importWithClient waits for the table job, uploads a gzipped slice and its manifest
// through the client and imports the file the way the stream service does.
func importWithClient(t *testing.T, base string, tableJobID int64) {
	t.Helper()
	cfg := storageapi.DefaultConfig()
	cfg.URL, cfg.Token = base, "script-token"
	cfg.JobPoll.InitialInterval, cfg.JobPoll.MaxInterval = 10*time.Millisecond, 50*time.Millisecond
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, err := storageapi.New(cfg, storageapi.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.WaitForJob(ctx, tableJobID); err != nil {
		t.Fatalf("table job: %v", err)
	}
	f, err := c.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: "src1_sink1_20240501120000", IsSliced: true, Tags: []string{"stream.sinkID=sink1"}})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprint(zw, "1,\"{\"\"a\"\":1}\"\n2,\"{\"\"a\"\":2}\"\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	slice := "2024-05-01T12:00:00.000Z_vol1.gz"
	if err := c.UploadSlice(ctx, f, slice, bytes.NewReader(gz.Bytes()), int64(gz.Len())); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadManifest(ctx, f, []string{slice}); err != nil {
		t.Fatal(err)
	}
	imp, err := c.ImportFile(ctx, "in.c-shop.orders", f.ID, storageapi.ImportOptions{Incremental: true, WithoutHeaders: true, Columns: []string{"id", "payload"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForJob(ctx, imp.ID); err != nil {
		t.Fatalf("import job: %v", err)
	}
}
