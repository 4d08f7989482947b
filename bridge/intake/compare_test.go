package intake_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/intake/internal/barehttp"
)

// TestIntakeVersusBare is the harness of make bench-intake (docs/http.md, "Performance"). It
// runs only with KBRIDGE_INTAKE_BENCH=1 and needs wrk (Debian package wrk). In one process it
// serves the intake (a running sink manager, the Storage API emulator, sinks of 3 path
// columns) and a bare net/http server that only reads the body and answers 200 OK
// (internal/barehttp), and drives them with wrk, alternated, KBRIDGE_INTAKE_ROUNDS times
// (default 5) for KBRIDGE_INTAKE_DURATION each (default 5s):
//
//   - bare and intake with sync.wait=false: one 1 KB JSON event per request, 256 connections;
//   - intake with sync.wait=true, 2,048 connections;
//   - intake NDJSON, 100 events of 1 KB per request, sync.wait=false, 64 connections.
//
// It logs every run and the medians: requests (records) per second, p50/p99 latency and the
// process's CPU time per request (the server's: wrk runs in its own process).
// KBRIDGE_INTAKE_PROFILE=dir writes a CPU profile per case, KBRIDGE_INTAKE_CASES=0,1 picks
// cases by index.
func TestIntakeVersusBare(t *testing.T) {
	if os.Getenv("KBRIDGE_INTAKE_BENCH") == "" {
		t.Skip("set KBRIDGE_INTAKE_BENCH=1 to run the comparison (make bench-intake; needs wrk)")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk not installed: apt-get install -y wrk")
	}
	rounds, _ := strconv.Atoi(envOr("KBRIDGE_INTAKE_ROUNDS", "5"))
	duration := envOr("KBRIDGE_INTAKE_DURATION", "5s")
	m := newManager(t, true)
	defineLoadSources(t, m)
	base, _ := serve(t, m)
	bare := serveBare(t)
	dir := t.TempDir()
	event := loadEvent()
	script := func(name, contentType, body string) string {
		p := filepath.Join(dir, name+".lua")
		lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = %q\nwrk.body = %q\n", contentType, body)
		if err := os.WriteFile(p, []byte(lua), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	single := script("single", "application/json", event)
	batch := script("ndjson", "application/x-ndjson", strings.Repeat(event+"\n", 100))
	cases := []benchCase{
		{name: "bare net/http, 1 KB, 256 conns", url: bare + "/stream/1/nowait/" + secret, script: single, conns: 256, records: 1},
		{name: "intake sync.wait=false, 1 KB, 256 conns", url: base + "/stream/1/nowait/" + secret, script: single, conns: 256, records: 1},
		{name: "intake sync.wait=true, 1 KB, 2048 conns", url: base + "/stream/1/wait/" + secret, script: single, conns: 2048, records: 1},
		{name: "intake NDJSON 100 × 1 KB, sync.wait=false, 64 conns", url: base + "/stream/1/nowait/" + secret, script: batch, conns: 64, records: 100},
	}
	only := os.Getenv("KBRIDGE_INTAKE_CASES") // indexes, e.g. "0,1"
	for r := range rounds {
		order := []int{0, 1, 2, 3}
		if r%2 == 1 {
			order = []int{1, 0, 3, 2} // alternate which of each pair runs first
		}
		for _, i := range order {
			if only != "" && !slices.Contains(strings.Split(only, ","), strconv.Itoa(i)) {
				continue
			}
			c := &cases[i]
			run := c.run(t, wrk, duration)
			c.runs = append(c.runs, run)
			t.Logf("round %d, %s: %.0f req/s, %.0f records/s, p50 %s p99 %s, %.1f µs CPU/request, load %s",
				r+1, c.name, run.rps, run.rps*float64(c.records), run.p50, run.p99, run.cpuPerReq, loadAverage())
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n| case | req/s (median of %d) | records/s | p50 | p99 | server CPU µs/request |\n|---|---:|---:|---:|---:|---:|\n", rounds)
	for _, c := range cases {
		if len(c.runs) == 0 {
			continue
		}
		md := c.median()
		fmt.Fprintf(&table, "| %s | %.0f | %.0f | %s | %s | %.1f |\n", c.name, md.rps, md.rps*float64(c.records), md.p50, md.p99, md.cpuPerReq)
	}
	if len(cases[0].runs) > 0 && len(cases[1].runs) > 0 {
		fmt.Fprintf(&table, "\nintake sync.wait=false / bare net/http: %.2f×\n", cases[1].median().rps/cases[0].median().rps)
	}
	t.Log(table.String())
}

type benchCase struct {
	name, url, script string
	conns, records    int
	runs              []benchRun
}

type benchRun struct {
	rps, cpuPerReq float64
	p50, p99       string
}

func (c *benchCase) run(t *testing.T, wrk, duration string) benchRun {
	stop := profile(t, regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(c.name), "-"))
	defer stop()
	before := selfCPU()
	cmd := exec.Command(wrk, "-t1", "-c"+strconv.Itoa(c.conns), "-d"+duration, "--latency", "-s", c.script, c.url)
	out, err := cmd.CombinedOutput()
	server := selfCPU() - before
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") {
		t.Errorf("%s: answers other than 2xx\n%s", c.name, out)
	}
	if m := regexp.MustCompile(`Socket errors:.*`).Find(out); m != nil {
		t.Logf("%s: wrk %s", c.name, m) // timeouts of a loaded machine, reported with the run
	}
	n := max(wrkRequests(out), 1)
	return benchRun{rps: wrkRate(out), cpuPerReq: float64(server.Microseconds()) / float64(n),
		p50: wrkPercentile(out, "50%"), p99: wrkPercentile(out, "99%")}
}

// median returns the run with the median rate (the lower middle of an even count), and the
// median CPU per request.
func (c *benchCase) median() benchRun {
	runs := slices.Clone(c.runs)
	slices.SortFunc(runs, func(a, b benchRun) int { return int(a.rps - b.rps) })
	md := runs[(len(runs)-1)/2]
	cpu := make([]float64, len(runs))
	for i, r := range runs {
		cpu[i] = r.cpuPerReq
	}
	slices.Sort(cpu)
	md.cpuPerReq = cpu[(len(cpu)-1)/2]
	return md
}

var wrkRateRe = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)

func wrkRate(out []byte) float64 {
	m := wrkRateRe.FindSubmatch(out)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func wrkPercentile(out []byte, p string) string {
	m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(p) + `\s+(\S+)`).FindSubmatch(out)
	if m == nil {
		return "?"
	}
	return string(m[1])
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// serveBare serves barehttp on a loopback listener until the test ends.
func serveBare(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: barehttp.Handler(), ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("bare server: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String()
}
