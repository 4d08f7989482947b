package mapping_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbridge/kbridge/mapping"
)

// hostile are templates that exhaust memory on any event.
var hostile = map[string]string{
	"doubling":  `local f(s, n) = if n == 0 then s else f(s + s, n - 1); f('x', 36)`,
	"makeArray": `std.makeArray(1e8, function(i) i)`,
}

func TestHostileTemplatesRefusedAtCompile(t *testing.T) {
	for name, content := range hostile {
		t.Run(name, func(t *testing.T) {
			cols := []mapping.Column{{Type: "path", Name: "id", Path: "id"},
				{Type: "template", Name: "bomb", Template: &mapping.Template{Language: "jsonnet", Content: content}}}
			_, err := mapping.Compile(cols, mapping.Config{})
			t.Logf("%v", err)
			if err == nil || !strings.HasPrefix(err.Error(), `column 2 "bomb": template stopped at its limits on an empty event`) || !errors.Is(err, mapping.ErrTemplate) {
				t.Fatalf("Compile: %v, want the template refused", err)
			}
		})
	}
}

// A template that runs away only on some events is admitted, and those events are stopped at
// the memory or time limit while their neighbours render. Meanwhile, and right after, a benign
// template of another mapping keeps rendering every event, however many runaway evaluations
// were stopped, and this process's heap stays small: the runaways grow in their workers.
func TestRunawayTemplatesAreStoppedAndIsolated(t *testing.T) {
	runaway := map[string]string{
		"memory": `if Body('bomb') then (local f(s, n) = if n == 0 then s else f(s + s, n - 1); f('x', 36)) else 'ok'`,
		"array":  `if Body('bomb') then std.length(std.makeArray(1e8, function(i) i)) else 'ok'`,
		"cpu":    `if Body('bomb') then std.foldl(function(acc, x) acc + x, std.range(1, 1e7), 0) else 'ok'`,
	}
	cfg := mapping.Config{TemplateTimeout: 2 * time.Second, TemplateMemoryLimit: 64 << 20}
	benign := compile(t, `[{"type":"template","name":"t","template":{"language":"jsonnet","content":"local x = Body('n'); x * 2"}}]`, cfg)
	stopBenign, benignDone := make(chan struct{}), make(chan int)
	go func() { benignDone <- renderUntil(t, benign, stopBenign) }()
	peak := heapPeak(t)

	var wg sync.WaitGroup
	for name, content := range runaway {
		cols := []mapping.Column{{Type: "template", Name: name, Template: &mapping.Template{Language: "jsonnet", Content: content}}}
		m, err := mapping.Compile(cols, cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for range 2 {
			wg.Go(func() {
				r := m.NewRenderer()
				events := []mapping.Event{jsonEvent(`{"bomb":false}`), jsonEvent(`{"bomb":true}`), jsonEvent(`{"bomb":false}`)}
				var rows mapping.Rows
				for range 3 {
					r.RenderBatch(events, &rows)
					if err := rows.Err(1); !errors.Is(err, mapping.ErrTemplate) ||
						!strings.Contains(err.Error(), "ran out of memory (limit 64 MiB)") && !strings.Contains(err.Error(), "timed out after 2s") {
						t.Errorf("%s: runaway event: %v", name, err)
					}
					if string(rows.Row(0)) != "\"\"\"ok\"\"\"\n" || string(rows.Row(2)) != "\"\"\"ok\"\"\"\n" {
						t.Errorf("%s: neighbours: %q, %q (%v, %v)", name, rows.Row(0), rows.Row(2), rows.Err(0), rows.Err(2))
					}
				}
			})
		}
	}
	wg.Wait()
	close(stopBenign)
	n := <-benignDone
	if n == 0 {
		t.Errorf("the benign mapping rendered nothing while the runaways ran")
	}
	if _, err := benign.NewRenderer().AppendRow(nil, ptr(jsonEvent(`{"n":21}`))); err != nil {
		t.Fatalf("benign mapping right after the runaways: %v", err)
	}
	stats := mapping.Workers()
	t.Logf("benign events rendered meanwhile %d; workers started %d, stopped %d, largest stopped worker %d MiB; this process's heap peaked at %d MiB",
		n, stats.Started, stats.Stopped, stats.MaxRSS>>20, peak()>>20)
	if stats.Stopped < 18 {
		t.Errorf("%d workers stopped, want at least one per runaway event (18)", stats.Stopped)
	}
	if p := peak(); p > 256<<20 {
		t.Errorf("heap peaked at %d MiB", p>>20)
	}
}

// renderUntil renders events with m until stop is closed, failing the test on any error, and
// returns how many it rendered.
func renderUntil(t *testing.T, m *mapping.Mapping, stop <-chan struct{}) int {
	r := m.NewRenderer()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return n
		default:
		}
		row, err := r.AppendRow(nil, ptr(jsonEvent(fmt.Sprintf(`{"n":%d}`, n))))
		if want := fmt.Sprintf("\"%d\"\n", 2*n); err != nil || string(row) != want {
			t.Errorf("benign mapping, event %d: row %q, error %v; want %q", n, row, err, want)
			return n
		}
	}
}

// heapPeak samples the heap until the test ends; the function returns the largest sample.
func heapPeak(t *testing.T) func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return peak.Load
}

// A worker renders exactly what this process renders: every field of HTTP and Kafka events
// crosses to the worker intact (a nil key and an empty one, zero and IPv6 addresses, repeated
// headers, record headers), and a native's failure keeps its class and message.
func TestWorkerRendersAsInProcess(t *testing.T) {
	t.Parallel()
	columns := `[{"type":"template","name":"all","template":{"language":"jsonnet","content":
		"local k = Key(); [Topic(), Partition(), Offset(), k, Timestamp(), Timestamp('%s'), Ip(), Now(), Header(), HeaderStr(), BodyStr(), Body('a', 'none')]"}},
		{"type":"template","name":"h","template":{"language":"jsonnet","content":"local h = Header('X-Must'); h"}}]`
	inWorker, inProcess := compile(t, columns, mapping.Config{}), compile(t, columns, mapping.InProcess(mapping.Config{}))
	at := time.Date(2026, 12, 4, 20, 0, 0, 123456789, time.FixedZone("x", 3600))
	kafka := func(key []byte) mapping.Event {
		return mapping.Event{Kafka: true, Topic: "orders", Partition: -1 << 31, Offset: 1 << 62, Key: key, Timestamp: at,
			Body: []byte(`{"a":[1,"ü\u2028"]}`), ReceivedAt: at, Header: http.Header{"X-Must": {"1"}},
			RecordHeaders: []mapping.RecordHeader{{Key: "k", Value: []byte("v")}, {Key: "k", Value: nil}}}
	}
	events := []mapping.Event{
		kafka(nil), kafka([]byte{}), kafka([]byte("key")),
		{Body: []byte(`{"a":1}`), Header: http.Header{"Content-Type": {"application/json"}, "X-Must": {"a", "b"}},
			ClientIP: netip.MustParseAddr("2001:db8::1"), ReceivedAt: at},
		{Body: []byte(`a=1&b[]=2`), Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
		jsonEvent(`{"a":2}`), // no X-Must: fails in the second template
		jsonEvent(`[1]`),     // Body() of an array fails
	}
	var want, got mapping.Rows
	inProcess.NewRenderer().RenderBatch(events, &want)
	inWorker.NewRenderer().RenderBatch(events, &got)
	for i := range events {
		if string(got.Row(i)) != string(want.Row(i)) || fmt.Sprint(got.Err(i)) != fmt.Sprint(want.Err(i)) {
			t.Errorf("event %d: worker %q, %v; in process %q, %v", i, got.Row(i), got.Err(i), want.Row(i), want.Err(i))
		}
		for _, class := range []error{mapping.ErrNotFound, mapping.ErrInvalidBody} {
			if errors.Is(want.Err(i), class) != errors.Is(got.Err(i), class) {
				t.Errorf("event %d: worker error %v, in process %v: not both %v", i, got.Err(i), want.Err(i), class)
			}
		}
	}
	if want.Err(5) == nil || want.Err(6) == nil || want.Err(0) != nil {
		t.Fatalf("the cases do not fail where they should: %v, %v, %v", want.Err(0), want.Err(5), want.Err(6))
	}
}
