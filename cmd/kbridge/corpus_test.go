package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// corpusRSSLimit is the resident memory kbridge dev may reach while the corpus is fired at it.
const corpusRSSLimit = 300 << 20

// hostile is one request of the corpus and what it must be answered.
type hostile struct {
	name   string
	target string // intake, api, connect or metrics
	// raw, when set, is sent as is on a new connection (malformed requests); otherwise
	// method, path, headers and body make a request.
	raw     string
	method  string
	path    string
	headers map[string]string
	body    string
	status  int
	reason  string // a substring of the answer's JSON "message", when set
	errName string // the answer's JSON "error", when set
}

// TestHostileCorpus fires a corpus of malformed and hostile requests at a running kbridge dev:
// bad JSON, names Storage or Connect refuse, oversize fields, missing and wrong tokens, path
// traversal, huge headers, malformed request lines, wrong methods, connector configs with bad
// keys. Each is answered with its status and a JSON body giving the reason; after each the
// process is alive and its RSS under corpusRSSLimit. Cases are data: the intake's large-body
// cases (gzip NDJSON of millions of lines) join the table as corpus entries.
func TestHostileCorpus(t *testing.T) {
	t.Parallel()
	bin := buildKbridge(t)
	addrs := freeAddrs(t, 6)
	targets := map[string]string{"storage": addrs[1], "metrics": addrs[2], "intake": addrs[3], "api": addrs[4], "connect": addrs[5]}
	_, kafkaPort, _ := strings.Cut(addrs[0], ":")
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(), "--kafka-port", kafkaPort, "--storage-listen", targets["storage"],
		"--metrics-listen", targets["metrics"], "--intake-listen", targets["intake"], "--api-listen", targets["api"], "--connect-listen", targets["connect"], "--schema-registry-listen", "")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuilder
	cmd.Stderr = &stderr
	exited := startWatched(t, cmd, &stderr)
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "emulator preview") {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case err := <-exited:
		exited <- err
		t.Fatalf("kbridge dev exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("kbridge dev did not start")
	}

	corpus := hostileCorpus()
	if len(corpus) < 200 {
		t.Fatalf("only %d cases", len(corpus))
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var peak int64
	for _, c := range corpus {
		status, body, err := fire(client, targets[c.target], c)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else {
			var answer struct {
				Error   string `json:"error"`
				Message string `json:"message"`
			}
			if jerr := json.Unmarshal([]byte(body), &answer); status != c.status || jerr != nil || answer.Message == "" ||
				!strings.Contains(answer.Message, c.reason) || (c.errName != "" && answer.Error != c.errName) {
				t.Errorf("%s: %d %.300s; want %d with a JSON message containing %q (error %q)", c.name, status, body, c.status, c.reason, c.errName)
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("after %s: kbridge dev exited: %v", c.name, err)
		default:
		}
		rss := residentBytes(t, cmd.Process.Pid)
		peak = max(peak, rss)
		if rss > corpusRSSLimit {
			t.Fatalf("after %s: RSS %d MB, over %d MB", c.name, rss>>20, corpusRSSLimit>>20)
		}
	}
	t.Logf("%d hostile requests answered; peak RSS %d MB (limit %d MB)", len(corpus), peak>>20, corpusRSSLimit>>20)
}

// fire sends one case and returns the status and body of the answer.
func fire(client *http.Client, addr string, c hostile) (int, string, error) {
	if c.raw != "" {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return 0, "", err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(conn, c.raw); err != nil {
			return 0, "", err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	req, err := http.NewRequest(c.method, "http://"+addr+c.path, strings.NewReader(c.body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// residentBytes reads VmRSS of process pid.
func residentBytes(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the process status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in the process status")
	return 0
}
