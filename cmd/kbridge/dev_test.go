package main_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kbridge dev on ports other than the defaults: every address its guide prints answers, and an
// HTTP event and a record produced to the embedded broker reach the demo table.
func TestDev(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	kafkaAddr, storageAddr, metricsAddr, intakeAddr, apiAddr, connectAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	registryAddr := freeAddr(t)
	_, kafkaPort, _ := strings.Cut(kafkaAddr, ":")
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(), "--kafka-port", kafkaPort, "--storage-listen", storageAddr,
		"--metrics-listen", metricsAddr, "--intake-listen", intakeAddr, "--api-listen", apiAddr, "--connect-listen", connectAddr,
		"--schema-registry-listen", registryAddr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("kbridge dev stderr:\n%s", stderr.String())
		}
	})
	guide := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var b strings.Builder
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "kbridge emulator preview") {
				guide <- b.String()
			}
		}
	}()
	var g string
	select {
	case g = <-guide:
	case <-time.After(60 * time.Second):
		t.Fatal("kbridge dev did not start")
	}
	if !strings.Contains(g, "kcat -b "+kafkaAddr+" -t events -P") {
		t.Errorf("the guide does not show how to produce to %s:\n%s", kafkaAddr, g)
	}

	// Every address the guide prints is one of the given listeners, and answers: the intake URL
	// as its curl line sends to it, every other one with a GET carrying the printed token.
	ours := map[string]bool{storageAddr: true, metricsAddr: true, intakeAddr: true, apiAddr: true, connectAddr: true, registryAddr: true}
	urls := regexp.MustCompile(`https?://\S*`).FindAllString(g, -1)
	if len(urls) < 8 {
		t.Fatalf("only %d addresses in the guide:\n%s", len(urls), g)
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || !ours[u.Host] {
			t.Errorf("the guide prints %q, not an address kbridge dev listens on", raw)
			continue
		}
		method, body := http.MethodGet, ""
		if strings.Contains(u.Path, "/stream/") {
			method, body = http.MethodPost, `{"from":"http"}`
		}
		if strings.Contains(g, "--url "+raw+" ") {
			continue // the preview command's base URL, run below
		}
		status, resp := request(t, method, raw, body)
		if status != http.StatusOK {
			t.Errorf("%s %s: %d %s", method, raw, status, resp)
		}
	}
	if status, body := request(t, http.MethodGet, "http://"+connectAddr+"/connectors", ""); status != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Fatalf("GET /connectors: %d %s", status, body)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "events", Value: []byte(`{"from":"kafka"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 120*time.Second, "the HTTP event and the Kafka record in the demo table", func() bool {
		found := map[string]bool{}
		for _, r := range tableRows(t, "http://"+storageAddr, "kbridge-dev-token", "in.c-demo.events") {
			found[r[len(r)-1]] = true
		}
		return found[`{"from":"kafka"}`] && found[`{"from":"http"}`]
	})
	// The preview command of the guide, run as printed, shows both rows.
	var preview []string
	for _, line := range strings.Split(g, "\n") {
		if strings.Contains(line, " emulator preview ") {
			preview = strings.Fields(line)
		}
	}
	if len(preview) == 0 || preview[0] != bin {
		t.Fatalf("no preview command for %s in the guide:\n%s", bin, g)
	}
	out, err := exec.Command(preview[0], preview[1:]...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `{""from"":""kafka""}`) {
		t.Errorf("%s: %v\n%s", strings.Join(preview, " "), err, out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kbridge dev exited with %v", err)
	}
}

// request sends a request with the dev token, as a user following the guide would.
func request(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-StorageApi-Token", "kbridge-dev-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
