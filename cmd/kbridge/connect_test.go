package main_test

import (
	"bufio"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConnectScript runs testdata/connect-api.sh, a curl script driving the Kafka Connect
// REST API as kcctl and scripts drive a Connect worker, against kbridge dev: apply, validate,
// pause, resume, restart, offsets, log levels, delete. It then checks that the log level
// changes took effect in the daemon's log: the connect component was at dev's WARN when kafka's
// level was set (its INFO line is not written), and at INFO when its own was.
func TestConnectScript(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed")
	}
	bin := buildKbridge(t)
	kafkaAddr, storageAddr, metricsAddr, intakeAddr, apiAddr, connectAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	_, kafkaPort, _ := strings.Cut(kafkaAddr, ":")
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(), "--kafka-port", kafkaPort, "--storage-listen", storageAddr,
		"--metrics-listen", metricsAddr, "--intake-listen", intakeAddr, "--api-listen", apiAddr, "--connect-listen", connectAddr, "--schema-registry-listen", "")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuilder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	intake := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u := regexp.MustCompile(`http://\S+/stream/\S+`).FindString(sc.Text()); u != "" {
				select {
				case intake <- u:
				default:
				}
			}
		}
	}()
	var sinkURL string
	select {
	case sinkURL = <-intake:
	case <-time.After(60 * time.Second):
		t.Fatalf("kbridge dev did not start:\n%s", stderr.String())
	}
	script := exec.Command("bash", "testdata/connect-api.sh")
	script.Env = append(script.Environ(), "CONNECT=http://"+connectAddr, "SINK_URL="+sinkURL)
	out, err := script.CombinedOutput()
	t.Logf("connect-api.sh:\n%s", out)
	if err != nil {
		t.Fatalf("connect-api.sh: %v\nkbridge dev stderr:\n%s", err, stderr.String())
	}
	logs := stderr.String()
	if strings.Contains(logs, "namespace=kafka") {
		t.Errorf("the connect logger wrote at INFO while at WARN:\n%s", logs)
	}
	if !regexp.MustCompile(`msg="logger level set" .*namespace=connect level=INFO`).MatchString(logs) {
		t.Errorf("the connect logger did not write at INFO once set to INFO:\n%s", logs)
	}
}

// lockedBuilder is a strings.Builder a process writes to while the test reads it.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
