package main_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// intakeMemoryLimit is the resident memory (VmRSS and its peak VmHWM) kbridge run may reach
// while the intake takes hostile bodies.
const intakeMemoryLimit = 300 << 20

const intakeConfig = `
sink:
  dataDir: %s
storage:
  url: %s
metrics:
  listen: %s
intake: {listen: %s, publicUrl: "http://%[4]s"}
api: {listen: ""}
connect: {listen: ""}
log: {format: text, level: info}
sources:
  - id: web
    type: http
    secret: %s
    settings:
      storage.level.local.encoding.sync.wait: false
    sinks:
      - id: clicks
        tableId: in.c-demo.clicks
        columns:
          - {type: uuid, name: uuid, primaryKey: true}
          - {type: path, name: id, path: id, defaultValue: ""}
          - {type: body, name: body}
`

const intakeSecret = "intake00000000000000000000000000000000000intake"

// runIntake starts kbridge run with only the intake (source "web", sync.wait=false) against an
// emulator process and returns the process and the source's URL once /readyz answers.
func runIntake(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	bin := buildKbridge(t)
	dir := t.TempDir()
	em, storageURL := startEmulatorProcess(t, bin, filepath.Join(dir, "emulator"))
	t.Cleanup(func() { _ = em.Process.Kill(); _ = em.Wait() })
	addrs := freeAddrs(t, 2)
	cmd, _, _ := startRun(t, bin, dir, fmt.Sprintf(intakeConfig, filepath.Join(dir, "data"), storageURL, addrs[0], addrs[1], intakeSecret))
	waitUntil(t, 30*time.Second, "/readyz", func() bool { status, _ := get(t, "http://"+addrs[0]+"/readyz"); return status == http.StatusOK })
	return cmd, fmt.Sprintf("http://%s/stream/1/web/%s", addrs[1], intakeSecret)
}

// procMemory reads VmRSS and VmHWM (the peak) of process pid, in bytes.
func procMemory(t *testing.T, pid int) (rss, hwm int64) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the process status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		for key, dst := range map[string]*int64{"VmRSS:": &rss, "VmHWM:": &hwm} {
			if v, ok := strings.CutPrefix(line, key); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					t.Fatalf("%s %q: %v", key, v, err)
				}
				*dst = kb << 10
			}
		}
	}
	if rss == 0 || hwm == 0 {
		t.Fatal("no VmRSS or VmHWM in the process status")
	}
	return rss, hwm
}

// sampler reads the memory of a process every 20 ms until stopped and keeps the peak.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	peak int64
}

func sampleMemory(t *testing.T, pid int) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err == nil {
				for _, line := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
						s.peak = max(s.peak, kb<<10)
					}
				}
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *sampler) Stop() int64 { close(s.stop); <-s.done; return s.peak }

// gzipped compresses s.
func gzipped(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// answer is what one intake request got back.
type answer struct {
	status int
	body   string
	err    error
}

// post sends body to the intake URL with the content type and encoding.
func post(client *http.Client, url, contentType, encoding, body string) answer {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, body: string(data), err: err}
}

// wantError checks that a is the JSON error answer status/name.
func wantError(t *testing.T, what string, a answer, status int, name string) {
	t.Helper()
	var got struct {
		StatusCode int    `json:"statusCode"`
		Error      string `json:"error"`
		Message    string `json:"message"`
	}
	if a.err != nil {
		t.Errorf("%s: %v", what, a.err)
		return
	}
	if err := json.Unmarshal([]byte(a.body), &got); err != nil || a.status != status || got.StatusCode != status || got.Error != name || got.Message == "" {
		t.Errorf("%s: %d %.300s; want %d JSON %s", what, a.status, a.body, status, name)
	}
}

// TestNDJSONMemoryBounded sends kbridge run gzip NDJSON bodies of 5,000,000 lines of {} (about
// 15 KB compressed, 15 MB decoded: under maxNdjsonBodySize but 50 times maxNdjsonLines), in a
// row and concurrently, plus bodies at the line cap and gzip bombs of one record, while
// sampling the daemon's VmRSS; its RSS and its peak (VmHWM) stay under intakeMemoryLimit and
// each request gets its documented answer: 413 stream.in.tooManyLines, 413
// stream.in.bodyTooLarge, or 202 for the batch at the cap. Plain bodies over the limits (15 MB
// for one record, 18 MB of NDJSON) sent concurrently are refused too.
func TestNDJSONMemoryBounded(t *testing.T) {
	t.Parallel()
	cmd, url := runIntake(t)
	pid := cmd.Process.Pid
	rss0, _ := procMemory(t, pid)
	huge := gzipped(t, strings.Repeat("{}\n", 5_000_000))
	atCap := gzipped(t, strings.Repeat(`{"id":"x"}`+"\n", 100_000))
	bomb := gzipped(t, `{"id":"`+strings.Repeat("a", 64<<20)+`"}`)
	t.Logf("bodies: 5M lines %d B, 100k lines %d B, 64 MB record %d B (gzip)", len(huge), len(atCap), len(bomb))
	client := &http.Client{Timeout: 60 * time.Second}
	s := sampleMemory(t, pid)

	for i := range 3 {
		start := time.Now()
		a := post(client, url, "application/x-ndjson", "gzip", huge)
		wantError(t, fmt.Sprintf("5M lines #%d", i), a, http.StatusRequestEntityTooLarge, "stream.in.tooManyLines")
		t.Logf("5M lines #%d answered in %s", i, time.Since(start).Round(time.Millisecond))
	}
	// Bodies over the limits as sent, concurrently: refused at their Content-Length.
	var big sync.WaitGroup
	bigAnswers := make([]answer, 8)
	for i := range bigAnswers {
		big.Go(func() {
			if i%2 == 0 {
				bigAnswers[i] = post(client, url, "application/json", "", strings.Repeat("x", 15<<20))
			} else {
				bigAnswers[i] = post(client, url, "application/x-ndjson", "", strings.Repeat("{}\n", 6<<20))
			}
		})
	}
	big.Wait()
	for i, a := range bigAnswers {
		wantError(t, fmt.Sprintf("body over the limit #%d", i), a, http.StatusRequestEntityTooLarge, "stream.in.bodyTooLarge")
	}
	var wg sync.WaitGroup
	answers := make([]answer, 8)
	for i := range answers {
		wg.Go(func() {
			switch i % 4 {
			case 0, 1:
				answers[i] = post(client, url, "application/x-ndjson", "gzip", huge)
			case 2:
				answers[i] = post(client, url+"?verbose=true", "application/x-ndjson", "gzip", atCap)
			default:
				answers[i] = post(client, url, "application/json", "gzip", bomb)
			}
		})
	}
	wg.Wait()
	for i, a := range answers {
		what := fmt.Sprintf("concurrent #%d", i)
		switch i % 4 {
		case 0, 1:
			wantError(t, what, a, http.StatusRequestEntityTooLarge, "stream.in.tooManyLines")
		case 2:
			if a.err != nil || a.status != http.StatusAccepted || !strings.Contains(a.body, `"records":100000`) {
				t.Errorf("%s (100,000 lines): %d %.300s %v; want 202 with 100000 records", what, a.status, a.body, a.err)
			}
		default:
			wantError(t, what, a, http.StatusRequestEntityTooLarge, "stream.in.bodyTooLarge")
		}
	}
	peak := s.Stop()
	rss, hwm := procMemory(t, pid)
	t.Logf("RSS before %d MB, peak sampled %d MB, after %d MB, VmHWM %d MB (limit %d MB)", rss0>>20, peak>>20, rss>>20, hwm>>20, intakeMemoryLimit>>20)
	if hwm > intakeMemoryLimit || peak > intakeMemoryLimit {
		t.Errorf("peak RSS %d MB (VmHWM %d MB), over %d MB", peak>>20, hwm>>20, intakeMemoryLimit>>20)
	}
}

// floodReturnBound is how far above its baseline the daemon's RSS may stay once a flood is
// over, and floodReturnWithin how long it may take to come back (without debug.FreeOSMemory:
// the Go runtime's own collection and scavenging). The baseline is taken after a warm-up of
// the same mix, so code pages and the sink's steady buffers are in it.
const (
	floodReturnBound  = 32 << 20
	floodReturnWithin = 60 * time.Second
)

// TestFloodMemoryReturns floods the intake of kbridge run with 20,000 requests over 256
// connections (1 KB records, NDJSON batches of 100, wrong secrets and 5,000,000-line gzip
// bodies mixed), checks every answer, that the RSS stays under intakeMemoryLimit during the
// flood, and that it comes back within floodReturnBound of its baseline before
// floodReturnWithin passes.
func TestFloodMemoryReturns(t *testing.T) {
	t.Parallel()
	cmd, url := runIntake(t)
	pid := cmd.Process.Pid
	f := newFlood(t, url)
	f.run(2_000) // warm-up
	time.Sleep(2 * time.Second)
	base, _ := procMemory(t, pid)
	s := sampleMemory(t, pid)
	start := time.Now()
	const total = 20_000
	f.run(total)
	took := time.Since(start)
	peak := s.Stop()
	end := time.Now()
	var rss int64
	for {
		rss, _ = procMemory(t, pid)
		if rss <= base+floodReturnBound || time.Since(end) > floodReturnWithin {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d requests in %s; RSS baseline %d MB, peak %d MB, %d MB %s after (bound: baseline + %d MB within %s)",
		total, took.Round(time.Millisecond), base>>20, peak>>20, rss>>20, time.Since(end).Round(100*time.Millisecond), floodReturnBound>>20, floodReturnWithin)
	if peak > intakeMemoryLimit {
		t.Errorf("peak RSS %d MB during the flood, over %d MB", peak>>20, intakeMemoryLimit>>20)
	}
	if rss > base+floodReturnBound {
		t.Errorf("RSS %d MB %s after the flood, baseline %d MB: over the bound of %d MB more", rss>>20, floodReturnWithin, base>>20, floodReturnBound>>20)
	}
}

// flood sends a mix of requests over 256 connections and checks every answer.
type flood struct {
	t                  *testing.T
	url                string
	event, batch, huge string
	client             *http.Client
}

func newFlood(t *testing.T, url string) *flood {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	t.Cleanup(tr.CloseIdleConnections)
	return &flood{t: t, url: url, event: `{"id":"` + strings.Repeat("e", 1000) + `"}`,
		batch: strings.Repeat(`{"id":"b"}`+"\n", 100), huge: gzipped(t, strings.Repeat("{}\n", 5_000_000)),
		client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (f *flood) run(total int) {
	const conns = 256
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	wrong := strings.Replace(f.url, intakeSecret, strings.Repeat("x", 48), 1)
	for range conns {
		wg.Go(func() {
			for i := range work {
				var a answer
				var ok bool
				switch {
				case i%100 == 0:
					a = post(f.client, f.url, "application/x-ndjson", "gzip", f.huge)
					ok = a.status == http.StatusRequestEntityTooLarge && strings.Contains(a.body, `"stream.in.tooManyLines"`)
				case i%25 == 1:
					a = post(f.client, wrong, "application/json", "", f.event)
					ok = a.status == http.StatusNotFound && strings.Contains(a.body, `"stream.in.noSourceFound"`)
				case i%10 == 2:
					a = post(f.client, f.url, "application/x-ndjson", "", f.batch)
					ok = a.status == http.StatusAccepted && a.body == "OK"
				default:
					a = post(f.client, f.url, "application/json", "", f.event)
					ok = a.status == http.StatusAccepted && a.body == "OK"
				}
				if !ok {
					mu.Lock()
					if bad++; bad <= 5 {
						f.t.Errorf("request %d: %d %.200s %v", i, a.status, a.body, a.err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range total {
		work <- i
	}
	close(work)
	wg.Wait()
	if bad > 0 {
		f.t.Fatalf("%d of %d answers were not as documented", bad, total)
	}
}
