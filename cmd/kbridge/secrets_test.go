package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const secretsConfig = `
sink:
  dataDir: %s
  staging: {minInterval: 0s}
  target: {minInterval: 0s}
storage:
  url: %s
  uploadTimeout: 30s
  retry: {maxAttempts: 1}
kafka:
  brokers: [%s]
metrics: {listen: %s}
intake: {listen: %s, publicUrl: "http://%[5]s"}
api: {listen: %s, publicUrl: "http://%[6]s", intakeUrl: "http://%[5]s"}
connect:
  listen: %[7]s
  auth: {type: basic, username: operator, password: %[8]s, adminUsername: admin, adminPassword: %[9]s}
log: {format: json, level: debug}
shutdownTimeout: 5s
sources:
  - id: web
    type: http
    secret: %[10]s
    settings:
      storage.level.local.encoding.sync.intervalTrigger: 10ms
      storage.level.staging.upload.trigger.count: 5
      storage.level.staging.upload.trigger.interval: 5s
      storage.level.target.import.trigger.count: 5
      storage.level.target.import.trigger.interval: 30s
    sinks:
      - id: clicks
        tableId: in.c-demo.clicks
        columns:
          - {type: uuid, name: uuid, primaryKey: true}
          - {type: body, name: body}
`

// startRun writes config to dir/kbridge.yaml and starts `kbridge run` on it, with the
// emulator's token script-token and env, watched as startWatched does.
func startRun(t *testing.T, bin, dir, config string, env ...string) (*exec.Cmd, *lockedBuilder, chan error) {
	t.Helper()
	path := filepath.Join(dir, "kbridge.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path)
	cmd.Env = append(append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token"), env...)
	logs := &lockedBuilder{}
	cmd.Stderr = logs
	return cmd, logs, startWatched(t, cmd, logs)
}

// terminate sends SIGTERM to a process started by startWatched and fails unless it exits 0
// within limit; it returns how long the exit took.
func terminate(t *testing.T, cmd *exec.Cmd, exited chan error, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for startWatched's cleanup
		if err != nil {
			t.Fatalf("kbridge exited with %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("kbridge did not stop within %s of SIGTERM", limit)
	}
	return time.Since(start)
}

// startWatched starts cmd, its output going to logs, and returns the channel its exit is
// reported on; the process is killed when the test ends and its logs' tail shown if it failed.
func startWatched(t *testing.T, cmd *exec.Cmd, logs *lockedBuilder) chan error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("kbridge logs (tail):\n%s", tail(logs.String(), 8<<10))
		}
	})
	return exited
}

// call sends a request with the given headers and returns the status and body.
func call(t *testing.T, method, u, body string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// A full run of kbridge run: intake events, a source created over the Stream API, a connector
// with connection.password created and read over the Connect API, Kafka records through it,
// and uploads failing (a hung blob upload past storage.uploadTimeout, a 500, expired upload
// credentials). No secret (intake secrets, the Storage token, upload credentials, the
// connector's and the Connect API's passwords) appears in any log line or in /metrics, and
// nothing under the data directory is readable by other users: files 0600, directories 0700.
func TestNoSecretsInLogsOrMetrics(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	dir := t.TempDir()
	em, storageURL := startEmulatorProcess(t, bin, filepath.Join(dir, "emulator"))
	t.Cleanup(func() { _ = em.Process.Kill(); _ = em.Wait() })
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)

	const (
		storageToken   = "script-token"
		webSecret      = "websecret00000000000000000000000000000websecret0"
		operatorPass   = "operator-pass-9f3a"
		adminPass      = "admin-pass-77c1"
		connectorPass  = "connector-pass-e5d2"
		storageTokenEn = "KBRIDGE_STORAGE_TOKEN=" + storageToken
	)
	addrs := freeAddrs(t, 4)
	metricsAddr, intakeAddr, apiAddr, connectAddr := addrs[0], addrs[1], addrs[2], addrs[3]
	config := filepath.Join(dir, "kbridge.yaml")
	body := fmt.Sprintf(secretsConfig, filepath.Join(dir, "data"), storageURL, cluster.ListenAddrs()[0], metricsAddr, intakeAddr,
		apiAddr, connectAddr, operatorPass, adminPass, webSecret)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Env = append(os.Environ(), storageTokenEn)
	var logs lockedBuilder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	exited := startWatched(t, cmd, &logs)
	waitUntil(t, 30*time.Second, "/readyz", func() bool { status, _ := get(t, "http://"+metricsAddr+"/readyz"); return status == http.StatusOK })

	intake := fmt.Sprintf("http://%s/stream/1/web/%s", intakeAddr, webSecret)
	for i := range 10 {
		if status, body := call(t, "POST", intake, fmt.Sprintf(`{"n":%d}`, i), "Content-Type", "application/json"); status != http.StatusOK {
			t.Fatalf("POST: %d %s", status, body)
		}
	}
	call(t, "POST", fmt.Sprintf("http://%s/stream/1/web/%s", intakeAddr, "wrong"+webSecret[5:]), `{}`, "Content-Type", "application/json")

	// The Stream API: a source created, its secret read by the admin token.
	api := "http://" + apiAddr + "/v1/branches/default/sources"
	if status, body := call(t, "POST", api, `{"sourceId":"more","name":"More","type":"http"}`, "X-StorageApi-Token", storageToken); status != http.StatusAccepted {
		t.Fatalf("create source: %d %s", status, body)
	}
	_, src := call(t, "GET", api+"/more", "", "X-StorageApi-Token", storageToken)
	m := regexp.MustCompile(`/stream/1/more/([0-9A-Za-z]{48})"`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("no secret in %s", src)
	}
	apiSecret := m[1]
	call(t, "POST", fmt.Sprintf("http://%s/stream/1/more/%s", intakeAddr, apiSecret), `{"x":1}`, "Content-Type", "application/json")

	// The Connect API: a connector with a password, read back by both credentials.
	connect := "http://" + connectAddr + "/connectors"
	conn, _ := json.Marshal(map[string]any{"name": "orders", "config": map[string]string{
		"connector.class": "io.confluent.connect.http.HttpSinkConnector", "topics": "orders", "http.api.url": intake,
		"auth.type": "BASIC", "connection.user": "u", "connection.password": connectorPass}})
	if status, body := call(t, "POST", connect, string(conn), "Content-Type", "application/json", "Authorization", basicAuth("admin", adminPass)); status != http.StatusCreated {
		t.Fatalf("create connector: %d %s", status, body)
	}
	for _, p := range []string{"/orders", "/orders/config", "/orders/status", "?expand=info&expand=status"} {
		call(t, "GET", connect+p, "", "Authorization", basicAuth("operator", operatorPass))
		call(t, "GET", connect+p, "", "Authorization", basicAuth("admin", adminPass))
	}
	call(t, "GET", connect, "", "Authorization", basicAuth("operator", "wrong-"+operatorPass))
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 5 {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"k":%d}`, i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	waitUntil(t, 180*time.Second, "the events and records in the table", func() bool {
		return len(tableRows(t, storageURL, storageToken, "in.c-demo.clicks")) >= 15
	})

	// An upload fails: it is held, then cut by the Storage side going away (a transport error,
	// whose URL carries the upload credential).
	if status, body := curl(t, http.MethodPost, storageURL+"/emulator/faults", "application/json", `{"endpoint":"putBlob","count":1,"hang":"1m"}`); status != http.StatusNoContent {
		t.Fatalf("fault: %d %s", status, body)
	}
	for i := range 5 {
		call(t, "POST", intake, fmt.Sprintf(`{"late":%d}`, i), "Content-Type", "application/json")
	}
	waitUntil(t, 30*time.Second, "the upload held", func() bool {
		_, body := curl(t, http.MethodGet, storageURL+"/emulator/faults", "", "")
		var st struct{ Faults []any }
		return json.Unmarshal(body, &st) == nil && len(st.Faults) == 0
	})
	_ = em.Process.Kill()
	waitUntil(t, 30*time.Second, "an upload cut", func() bool { return strings.Contains(logs.String(), "transport") })
	_, metrics := get(t, "http://"+metricsAddr+"/metrics")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(30 * time.Second):
		t.Fatal("kbridge did not stop within 30s of SIGTERM")
	}
	checkPrivate(t, filepath.Join(dir, "data"))
	out := logs.String()
	// The run went through the failures it is meant to show.
	if !strings.Contains(out, `"msg":"upload slice"`) || !strings.Contains(out, "transport error") || !strings.Contains(out, "azure upload") {
		t.Fatalf("no failed upload was logged; the test shows nothing:\n%s", out)
	}
	for what, secret := range map[string]string{"the config's intake secret": webSecret, "the API source's intake secret": apiSecret,
		"the Storage token": storageToken, "the connector's password": connectorPass, "the operator's password": operatorPass,
		"the admin's password": adminPass, "an upload credential (SAS signature)": "sig=", "an upload credential, escaped": "sig%3D"} {
		if i := strings.Index(out, secret); i >= 0 {
			start := max(0, strings.LastIndexByte(out[:i], '\n'))
			end := i + strings.IndexByte(out[i:]+"\n", '\n')
			t.Errorf("%s in the logs: %s", what, out[start:end])
		}
		if strings.Contains(metrics, secret) {
			t.Errorf("%s in /metrics", what)
		}
	}
}

// freeAddrs returns n distinct free local addresses (held open together while chosen).

// checkPrivate fails for every entry under dir that other users may read: a file not 0600, a
// directory not 0700 (or narrower, under a stricter umask).
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for group and others", path, perm)
		}
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no file under %s: nothing checked", dir)
	}
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}
