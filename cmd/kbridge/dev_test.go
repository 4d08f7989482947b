package main_test

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kbridge dev: a record produced to the embedded broker reaches the demo table.
func TestDev(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	kafkaAddr, storageAddr, metricsAddr, intakeAddr, apiAddr, connectAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	_, kafkaPort, _ := strings.Cut(kafkaAddr, ":")
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(), "--kafka-port", kafkaPort, "--storage-listen", storageAddr,
		"--metrics-listen", metricsAddr, "--intake-listen", intakeAddr, "--api-listen", apiAddr, "--connect-listen", connectAddr)
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
	var curlLine string
	select {
	case g := <-guide:
		if !strings.Contains(g, "kcat -b "+kafkaAddr+" -t events -P") || !strings.Contains(g, "kbridge emulator preview --url http://"+storageAddr) {
			t.Fatalf("the guide does not show how to produce and preview:\n%s", g)
		}
		for _, line := range strings.Split(g, "\n") {
			if strings.Contains(line, "curl -X POST") {
				curlLine = line
			}
		}
	case <-time.After(60 * time.Second):
		t.Fatal("kbridge dev did not start")
	}

	// The Kafka Connect REST API answers.
	if status, body := get(t, "http://"+connectAddr+"/connectors"); status != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Fatalf("GET /connectors: %d %s", status, body)
	}

	// The curl line of the guide, sent as curl would.
	fields := strings.Fields(curlLine)
	if len(fields) == 0 || !strings.HasPrefix(fields[len(fields)-1], "http://"+intakeAddr+"/stream/") {
		t.Fatalf("no curl line for the intake in the guide: %q", curlLine)
	}
	resp, err := http.Post(fields[len(fields)-1], "application/json", strings.NewReader(`{"from":"http"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST to the intake: %d", resp.StatusCode)
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
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kbridge dev exited with %v", err)
	}
}
