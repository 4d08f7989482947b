package mapping_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kbridge/kbridge/mapping"
)

// benchEvent is a 1 KB JSON event with nested objects, an array and a padding string.
func benchEvent(b testing.TB, i int) mapping.Event {
	body := fmt.Sprintf(`{"id":%d,"type":"order.created","user":{"id":"u-%d","name":"Ann Example","address":{"city":"Prague","zip":"11000"}},`+
		`"items":[{"sku":"A-1","qty":1,"price":9.99},{"sku":"B-2","qty":2,"price":19.5},{"sku":"C-3","qty":1,"price":5}],`+
		`"payload":{"a":{"b":"deep value"}},"padding":"%s","total":54.99}`, i, i, strings.Repeat("x", 740))
	if len(body) < 1000 || len(body) > 1100 {
		b.Fatalf("bench event is %d bytes, want about 1 KB", len(body))
	}
	return mapping.Event{
		Body:       []byte(body),
		Header:     http.Header{"Content-Type": {"application/json"}, "X-Id": {"req-1"}},
		ClientIP:   netip.MustParseAddr("192.0.2.1"),
		ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func benchMapping(b *testing.B, columns string) *mapping.Mapping {
	cols, err := mapping.DecodeColumns([]byte(columns))
	if err != nil {
		b.Fatal(err)
	}
	m, err := mapping.Compile(cols, mapping.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

const fivePaths = `[{"type":"path","name":"id","path":"id"},{"type":"path","name":"type","path":"type","rawString":true},
{"type":"path","name":"city","path":"user.address.city","rawString":true},{"type":"path","name":"sku","path":"items[1].sku"},
{"type":"path","name":"total","path":"total"}]`

const oneTemplate = `[{"type":"template","name":"t","rawString":true,
"template":{"language":"jsonnet","content":"Body(\"user.name\") + \"-\" + Header(\"X-Id\", \"none\")"}}]`

// BenchmarkRenderPaths: one event at a time, five path columns; the steady state allocates nothing.
func BenchmarkRenderPaths(b *testing.B) {
	r := benchMapping(b, fivePaths).NewRenderer()
	ev := benchEvent(b, 1)
	var row []byte
	b.SetBytes(int64(len(ev.Body)))
	b.ReportAllocs()
	n, cpu := 0, cpuTime()
	for b.Loop() {
		var err error
		if row, err = r.AppendRow(row[:0], &ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportPerEvent(b, n, cpu)
}

// oneJsonnetTemplate is oneTemplate written with a local, so it runs in Jsonnet rather than as
// a string expression: the cost of batched Jsonnet evaluation itself.
const oneJsonnetTemplate = `[{"type":"template","name":"t","rawString":true,
"template":{"language":"jsonnet","content":"local sep = \"-\"; Body(\"user.name\") + sep + Header(\"X-Id\", \"none\")"}}]`

// stdTemplate calls std.asciiUpper, which go-jsonnet implements in Jsonnet: far slower.
const stdTemplate = `[{"type":"template","name":"t","rawString":true,
"template":{"language":"jsonnet","content":"std.asciiUpper(Body(\"user.name\")) + \"-\" + Header(\"X-Id\", \"none\")"}}]`

// BenchmarkRenderTemplate: a template column over batches of events, per event: as a string
// expression, in batched Jsonnet, and in Jsonnet with a std function written in Jsonnet.
func BenchmarkRenderTemplate(b *testing.B) {
	b.Run("expr", func(b *testing.B) { benchBatches(b, oneTemplate, []int{1, 256}) })
	b.Run("jsonnet", func(b *testing.B) { benchBatches(b, oneJsonnetTemplate, []int{1, 64, 256, 1024}) })
	b.Run("jsonnet-std", func(b *testing.B) { benchBatches(b, stdTemplate, []int{256}) })
}

// benchBatches renders batches of each size with columns and reports the cost per event.
func benchBatches(b *testing.B, columns string, sizes []int) {
	for _, size := range sizes {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			r := benchMapping(b, columns).NewRenderer()
			events := make([]mapping.Event, size)
			for i := range events {
				events[i] = benchEvent(b, i)
			}
			var rows mapping.Rows
			b.ReportAllocs()
			n, cpu := 0, cpuTime()
			for b.Loop() {
				r.RenderBatch(events, &rows)
				n += size
			}
			reportPerEvent(b, n, cpu)
			if rows.Err(0) != nil {
				b.Fatal(rows.Err(0))
			}
		})
	}
}

// BenchmarkRenderBatchPaths: five path columns through RenderBatch, per event.
func BenchmarkRenderBatchPaths(b *testing.B) { benchBatches(b, fivePaths, []int{256}) }

// cpuTime is the CPU time, user and system, of the process and of its template workers, live
// or ended. Benchmarks report it per event next to the wall time: on a shared 2-core machine it
// does not count time spent waiting for a core.
func cpuTime() time.Duration {
	var self, ended syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ended)
	cpu := time.Duration(self.Utime.Nano() + self.Stime.Nano() + ended.Utime.Nano() + ended.Stime.Nano())
	return cpu + childrenCPU()
}

// childrenCPU is the CPU time of the live child processes, from /proc.
func childrenCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// After the command in parentheses: state, ppid, ... utime (14th field), stime (15th).
		_, rest, _ := strings.Cut(string(data), ") ")
		f := strings.Fields(rest)
		if len(f) < 13 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += utime + stime
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}

// reportPerEvent reports wall and CPU microseconds per event for a loop that rendered n events
// and started using cpuStart of CPU.
func reportPerEvent(b *testing.B, n int, cpuStart time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/1000, "µs/event")
	b.ReportMetric(float64((cpuTime()-cpuStart).Nanoseconds())/float64(n)/1000, "cpu-µs/event")
}
