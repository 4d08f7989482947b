package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Through the running daemon: a sink whose template exhausts memory on any event is refused
// with a 400 naming the reason; one that runs away on some events only is created, and those
// events fail (intake 422, test endpoint 422) while a benign template of another source keeps
// rendering, during and right after; the daemon stays up with a small resident size.
func TestHostileTemplatesThroughTheDaemon(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	kafkaAddr, storageAddr, intakeAddr, apiAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	_, kafkaPort, _ := strings.Cut(kafkaAddr, ":")
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(), "--kafka-port", kafkaPort, "--storage-listen", storageAddr,
		"--metrics-listen", freeAddr(t), "--intake-listen", intakeAddr, "--api-listen", apiAddr, "--connect-listen", freeAddr(t), "--schema-registry-listen", "")
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kbridge dev stderr:\n%s", logs.tail(100))
		}
	})
	api := "http://" + apiAddr + "/v1/branches/default"
	waitUntil(t, 60*time.Second, "the Stream API", func() bool {
		status, _ := request(t, http.MethodGet, api+"/sources", "")
		return status == http.StatusOK
	})
	doubling := `local f(s, n) = if n == 0 then s else f(s + s, n - 1); f('x', 36)`
	template := func(content string) string {
		c, _ := json.Marshal(content)
		return `{"type":"template","name":"t","template":{"language":"jsonnet","content":` + string(c) + `}}`
	}

	createSource(t, api, "hostile")
	for _, content := range []string{doubling, `std.makeArray(1e8, function(i) i)`} {
		status, body := request(t, http.MethodPost, api+"/sources/hostile/sinks", sinkBody("bomb", template(content)))
		if status != http.StatusBadRequest || !strings.Contains(body, "template stopped at its limits on an empty event") {
			t.Errorf("sink with %s: %d %s, want 400 naming the limit", content, status, body)
		}
		t.Logf("sink with %s: %d %s", content, status, body)
	}
	runaway := createSource(t, api, "runaway")
	createSink(t, api, "runaway", template(`if Body('bomb', false) then (`+doubling+`) else 'ok'`))
	benign := createSource(t, api, "benign")
	createSink(t, api, "benign", template(`local x = Body('n'); x * 2`))

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for range 3 {
				if status, body := request(t, http.MethodPost, runaway, `{"bomb":true}`); status != http.StatusUnprocessableEntity {
					t.Errorf("runaway event: %d %s, want 422", status, body)
				}
			}
		})
	}
	wg.Go(func() {
		status, body := request(t, http.MethodPost, api+"/sources/runaway/test", `{"bomb":true}`)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "ran out of memory") && !strings.Contains(body, "timed out") {
			t.Errorf("test endpoint, runaway event: %d %s, want 422 naming the limit", status, body)
		}
		t.Logf("test endpoint, runaway event: %d %s", status, body)
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	sent := 0
	for running := true; running || sent == 0; sent++ {
		select {
		case <-done:
			running = false
		default:
		}
		if status, body := request(t, http.MethodPost, benign, fmt.Sprintf(`{"n":%d}`, sent)); status != http.StatusOK {
			t.Fatalf("benign event %d while runaways run: %d %s", sent, status, body)
		}
	}
	if status, body := request(t, http.MethodPost, api+"/sources/benign/test", `{"n":21}`); status != http.StatusOK || !strings.Contains(body, `"value":"42"`) {
		t.Errorf("test endpoint, benign source right after: %d %s", status, body)
	}
	if status, body := request(t, http.MethodPost, runaway, `{"bomb":false}`); status != http.StatusOK {
		t.Errorf("runaway source, harmless event: %d %s", status, body)
	}
	peak := peakRSS(t, cmd.Process.Pid)
	t.Logf("benign events accepted meanwhile: %d; daemon peak resident size %d MiB", sent, peak>>20)
	if peak > 300<<20 {
		t.Errorf("daemon peak resident size %d MiB, want under 300 MiB", peak>>20)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kbridge dev exited with %v", err)
	}
}

// createSource creates an HTTP source and returns its intake URL.
func createSource(t *testing.T, api, id string) string {
	t.Helper()
	if status, body := request(t, http.MethodPost, api+"/sources", `{"sourceId":"`+id+`","type":"http","name":"`+id+`"}`); status != http.StatusAccepted {
		t.Fatalf("create source %s: %d %s", id, status, body)
	}
	var src struct {
		HTTP struct {
			URL string `json:"url"`
		} `json:"http"`
	}
	waitUntil(t, 30*time.Second, "source "+id, func() bool {
		status, body := request(t, http.MethodGet, api+"/sources/"+id, "")
		return status == http.StatusOK && json.Unmarshal([]byte(body), &src) == nil && src.HTTP.URL != ""
	})
	return src.HTTP.URL
}

func sinkBody(source, column string) string {
	return `{"sinkId":"table","type":"table","name":"table","table":{"type":"keboola","tableId":"in.c-` + source +
		`.events","mapping":{"columns":[` + column + `]}}}`
}

// createSink creates the sink "table" of source with one column and waits until it exists.
func createSink(t *testing.T, api, source, column string) {
	t.Helper()
	if status, body := request(t, http.MethodPost, api+"/sources/"+source+"/sinks", sinkBody(source, column)); status != http.StatusAccepted {
		t.Fatalf("create sink of %s: %d %s", source, status, body)
	}
	waitUntil(t, 30*time.Second, "sink of "+source, func() bool {
		status, _ := request(t, http.MethodGet, api+"/sources/"+source+"/sinks/table", "")
		return status == http.StatusOK
	})
}

// peakRSS is the largest resident size process pid has had, in bytes (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("process %d: no VmHWM", pid)
	return 0
}

const storedTemplateConfig = `
sink:
  dataDir: %s
  mapping: {templateTimeout: %s}
storage: {url: %s}
metrics: {listen: %s}
intake: {listen: %s, publicUrl: "http://%[5]s"}
api: {listen: %s, publicUrl: "http://%[6]s", intakeUrl: "http://%[5]s"}
connect: {listen: ""}
log: {format: text, level: info}
shutdownTimeout: 5s
`

// A sink admitted at creation stays loadable whatever the limits later: the daemon restarted
// with a template time limit its template now breaks starts with the sink, and the events
// of that sink fail with the reason (422) instead of the daemon refusing to start.
func TestStoredSinkOutlivesTighterLimits(t *testing.T) {
	t.Parallel()
	bin, dir, storageURL, _ := startRunStack(t, 0, "")
	addrs := freeAddrs(t, 3)
	metricsAddr, intakeAddr, apiAddr := addrs[0], addrs[1], addrs[2]
	start := func(timeout string) (*exec.Cmd, chan error, *lockedBuilder) {
		config := filepath.Join(dir, "kbridge-"+timeout+".yaml")
		body := fmt.Sprintf(storedTemplateConfig, filepath.Join(dir, "data"), timeout, storageURL, metricsAddr, intakeAddr, apiAddr)
		if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "run", "--config", config)
		cmd.Env = append(os.Environ(), "KBRIDGE_STORAGE_TOKEN=script-token")
		logs := &lockedBuilder{}
		cmd.Stdout, cmd.Stderr = logs, logs
		return cmd, startWatched(t, cmd, logs), logs
	}
	ready := func(exited chan error, logs *lockedBuilder) {
		waitUntil(t, 60*time.Second, "/readyz", func() bool {
			select {
			case err := <-exited:
				exited <- err // for startWatched's cleanup
				t.Fatalf("kbridge run exited with %v:\n%s", err, logs.String())
			default:
			}
			status, _ := get(t, "http://"+metricsAddr+"/readyz")
			return status == http.StatusOK
		})
	}

	cmd, exited, logs := start("30s")
	ready(exited, logs)
	api := "http://" + apiAddr + "/v1/branches/default/sources"
	slow := `{"type":"template","name":"sum","template":{"language":"jsonnet","content":"std.foldl(function(a, x) a + x, std.range(1, 300000), 0)"}}`
	if status, body := call(t, "POST", api, `{"sourceId":"slow","name":"Slow","type":"http"}`, "X-StorageApi-Token", "script-token"); status != http.StatusAccepted {
		t.Fatalf("create source: %d %s", status, body)
	}
	if status, body := call(t, "POST", api+"/slow/sinks", sinkBody("slow", slow), "X-StorageApi-Token", "script-token"); status != http.StatusAccepted {
		t.Fatalf("create sink: %d %s", status, body)
	}
	waitUntil(t, 30*time.Second, "the sink", func() bool {
		status, _ := call(t, "GET", api+"/slow/sinks/table", "", "X-StorageApi-Token", "script-token")
		return status == http.StatusOK
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	exited <- err // for startWatched's cleanup
	if err != nil {
		t.Fatalf("kbridge run exited with %v", err)
	}

	_, exited, logs = start("5ms")
	ready(exited, logs)
	_, src := call(t, "GET", api+"/slow", "", "X-StorageApi-Token", "script-token")
	var source struct {
		HTTP struct {
			URL string `json:"url"`
		} `json:"http"`
	}
	if err := json.Unmarshal([]byte(src), &source); err != nil || source.HTTP.URL == "" {
		t.Fatalf("source after the restart: %s (%v)", src, err)
	}
	status, body := call(t, "POST", source.HTTP.URL, `{}`, "Content-Type", "application/json")
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "timed out") {
		t.Errorf("event of the stored sink under the tighter limit: %d %s, want 422 naming the time limit", status, body)
	}
}
