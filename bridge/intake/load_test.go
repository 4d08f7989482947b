package intake_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// TestLoad drives the intake with wrk (Debian package wrk) for the cases of docs/http.md:
// 1 KB JSON events through a sink with 3 path columns, sync.wait true and false, and NDJSON
// batches of 100 events. It runs only with KBRIDGE_INTAKE_LOAD=1; KBRIDGE_INTAKE_PROFILE=dir
// writes a CPU profile per case; KBRIDGE_INTAKE_DURATION (default 10s),
// KBRIDGE_INTAKE_CONNS (default "1024,64,64", per case) and KBRIDGE_INTAKE_CASES (names of the
// cases to run, default all) tune the runs. Each case logs the server's CPU time and heap
// allocations per request.
func TestLoad(t *testing.T) {
	if os.Getenv("KBRIDGE_INTAKE_LOAD") == "" {
		t.Skip("set KBRIDGE_INTAKE_LOAD=1 to run the load test (needs wrk)")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed")
	}
	duration := envOr("KBRIDGE_INTAKE_DURATION", "10s")
	conns := strings.Split(envOr("KBRIDGE_INTAKE_CONNS", "1024,64,64"), ",")
	cases := envOr("KBRIDGE_INTAKE_CASES", "single-wait,single-nowait,ndjson100-wait")
	reg := prometheus.NewRegistry()
	m := newManagerWith(t, true, sink.Deps{Registerer: reg})
	defineLoadSources(t, m)
	base, _ := serve(t, m)
	dir := t.TempDir()
	event := loadEvent()
	batch := strings.Repeat(event+"\n", 100)
	for i, c := range []struct{ name, source, contentType, body string }{
		{"single-wait", "wait", "application/json", event},
		{"single-nowait", "nowait", "application/json", event},
		{"ndjson100-wait", "wait", "application/x-ndjson", batch},
	} {
		if !slices.Contains(strings.Split(cases, ","), c.name) {
			continue
		}
		script := filepath.Join(dir, c.name+".lua")
		lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = %q\nwrk.body = %q\n", c.contentType, c.body)
		if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
			t.Fatal(err)
		}
		stop := profile(t, c.name)
		var mem runtime.MemStats
		runtime.ReadMemStats(&mem)
		before, mallocs := selfCPU(), mem.Mallocs
		cmd := exec.Command(wrk, "-t1", "-c"+conns[min(i, len(conns)-1)], "-d"+duration, "--latency", "-s", script,
			base+"/stream/1/"+c.source+"/"+secret)
		out, err := cmd.CombinedOutput()
		server := selfCPU() - before
		runtime.ReadMemStats(&mem)
		mallocs = mem.Mallocs - mallocs
		stop()
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
		client := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		n := max(wrkRequests(out), 1)
		t.Logf("%s (%d B body): CPU server %s (%.1f µs/request, %.1f allocs/request), wrk %s\n%s", c.name, len(c.body),
			server, float64(server.Microseconds())/float64(n), float64(mallocs)/float64(n), client, out)
		if strings.Contains(string(out), "Non-2xx") {
			t.Errorf("%s: some answers were not 2xx", c.name)
		}
		logSyncs(t, reg, c.source)
	}
}

// defineLoadSources creates the sources "wait" and "nowait", each with one sink of 3 path
// columns, sync.wait true and false.
func defineLoadSources(t testing.TB, m *sink.Manager) {
	t.Helper()
	cols := []mapping.Column{
		{Type: mapping.KindPath, Name: "id", Path: "id", RawString: true},
		{Type: mapping.KindPath, Name: "user", Path: "user.name", RawString: true},
		{Type: mapping.KindPath, Name: "amount", Path: "order.amount"},
	}
	for _, id := range []string{"wait", "nowait"} {
		if err := m.PutSource(sink.Source{Key: key(id), Type: "http", Name: id, Secret: secret}); err != nil {
			t.Fatal(err)
		}
		p := sink.Patch{"storage.level.local.encoding.sync.wait": id == "wait"}
		def := sink.Sink{Key: sink.SinkKey{SourceKey: key(id), SinkID: "table"}, Name: "table",
			TableID: "in.c-load." + id, Columns: cols, Settings: p}
		if err := m.PutSink(def); err != nil {
			t.Fatal(err)
		}
	}
}

// logSyncs reports the sink's syncs so far: how many and their mean duration (write and two
// fsyncs), which with the 50 ms interval trigger sets the latency of sync.wait=true requests.
func logSyncs(t *testing.T, reg *prometheus.Registry, source string) {
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "kbridge_sink_sync_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" && strings.HasSuffix(l.GetValue(), "/"+source) {
					h := m.GetHistogram()
					t.Logf("sink of %s: %d syncs so far, mean %.1f ms", source, h.GetSampleCount(),
						1000*h.GetSampleSum()/float64(max(h.GetSampleCount(), 1)))
				}
			}
		}
	}
}

var wrkTotal = regexp.MustCompile(`(\d+) requests in`)

// wrkRequests is the number of requests wrk reports, 0 if it cannot be read.
func wrkRequests(out []byte) int64 {
	m := wrkTotal.FindSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// loadEvent is a 1 KB JSON event.
func loadEvent() string {
	pad := strings.Repeat("x", 1024-120)
	return `{"id":"ev-000001","user":{"name":"Jane Doe","email":"jane@example.com"},"order":{"amount":123.45,"items":3},"pad":"` + pad + `"}`
}

func profile(t *testing.T, name string) func() {
	dir := os.Getenv("KBRIDGE_INTAKE_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

// selfCPU is the user+system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
