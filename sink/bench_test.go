package sink_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

// benchEvents are distinct 1 KB JSON events, so compression sees realistic data.
func benchEvents(n int) []mapping.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]mapping.Event, n)
	for i := range out {
		pad := make([]byte, 760)
		for j := range pad {
			pad[j] = letters[rng.IntN(len(letters))]
		}
		body := fmt.Appendf(nil, `{"id":"%016x-%d","user":{"id":%d,"name":"user %d","country":"CZ"},"event":"%s","ts":"2026-01-02T03:04:%02d.%06dZ","amount":%d.%02d,"tags":["a","b","c"],"payload":"%s"}`,
			rng.Uint64(), i, rng.IntN(1e6), i, []string{"click", "view", "buy"}[i%3], i%60, rng.IntN(1e6), rng.IntN(1000), rng.IntN(100), pad)
		out[i] = mapping.Event{Kafka: true, Body: body, ReceivedAt: time.Now()}
	}
	return out
}

var benchColumns = []mapping.Column{
	{Type: mapping.KindPath, Name: "id", Path: "id", RawString: true},
	{Type: mapping.KindPath, Name: "user_id", Path: "user.id"},
	{Type: mapping.KindPath, Name: "event", Path: "event", RawString: true},
	{Type: mapping.KindPath, Name: "ts", Path: "ts", RawString: true},
	{Type: mapping.KindPath, Name: "amount", Path: "amount"},
}

// BenchmarkWrite measures events/s into the local level with group-commit fsync (default sync
// triggers: 10 000 rows, 1 MB, 256 KB compressed or 50 ms). Writers work like the Kafka bridge:
// batches of 100 events, up to 64 batches in flight per writer, each waited for at LevelLocal.
// One op is one event; with 10 sinks every event becomes 10 rows (rows/s per sink = events/s).
func BenchmarkWrite(b *testing.B) {
	for _, codec := range []struct{ name, compression, impl string }{
		{"none", "none", "fast"}, {"gzip-stdlib", "gzip", "standard"}, {"gzip-klauspost", "gzip", "fast"},
	} {
		for _, sinks := range []int{1, 10} {
			b.Run(codec.name+"/sinks="+strconv.Itoa(sinks), func(b *testing.B) {
				benchWrite(b, codec.compression, codec.impl, sinks)
			})
		}
	}
}

func benchWrite(b *testing.B, compression, impl string, sinks int) {
	m := benchManager(b)
	settings := sink.Patch{
		"storage.level.local.encoding.compression.type":                compression,
		"storage.level.local.encoding.compression.gzip.implementation": impl,
		"storage.level.staging.upload.trigger.count":                   10_000_000,
		"storage.level.staging.upload.trigger.size":                    "50MB",
		"storage.level.staging.upload.trigger.interval":                "30m",
		"storage.level.target.import.trigger.interval":                 "24h",
	}
	tables := make([]string, sinks)
	for i := range tables {
		tables[i] = "in.c-bench.t" + strconv.Itoa(i)
	}
	define(b, m, benchColumns, settings, tables...)
	pool := benchEvents(1024)
	b.ReportAllocs()
	b.SetParallelism(2)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) { writeParallel(b, m, pool, pb) })
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s/sink")
	st, err := m.SinkStatistics(sinkKey(0))
	if err == nil && st.Total.RecordsCount > 0 {
		b.ReportMetric(float64(st.Total.UncompressedSize)/float64(st.Total.RecordsCount), "B/row")
	}
}

// writeParallel is one writer: batches of 100 events, up to 64 batches in flight.
func writeParallel(b *testing.B, m *sink.Manager, pool []mapping.Event, pb *testing.PB) {
	const batch = 100
	ctx := context.Background()
	off := rand.IntN(len(pool) - batch)
	var inflight []*sink.Write
	n := 0
	for pb.Next() {
		if n++; n < batch {
			continue
		}
		n = 0
		w, err := m.Write(ctx, sourceKey, pool[off:off+batch], nil)
		if err != nil {
			b.Error(err)
			return
		}
		if inflight = append(inflight, w); len(inflight) == 64 {
			if err := inflight[0].Wait(ctx, sink.LevelLocal); err != nil {
				b.Error(err)
				return
			}
			inflight = append(inflight[:0], inflight[1:]...)
		}
		off = (off + batch) % (len(pool) - batch)
	}
	for _, w := range inflight {
		if err := w.Wait(ctx, sink.LevelLocal); err != nil {
			b.Error(err)
		}
	}
}

// BenchmarkWriteWait measures the HTTP intake's path in the sink: 1536 writers (like
// connections) each write one 1 KB event and wait for its sync at LevelLocal, over and over
// (sync.wait=true, default sync triggers). One op is one event; cpu-µs/op is the process's CPU
// time per event, which includes rendering, appending, syncing and waking the waiters.
func BenchmarkWriteWait(b *testing.B) {
	m := benchManager(b)
	define(b, m, benchColumns, sink.Patch{"storage.level.staging.upload.trigger.interval": "30m",
		"storage.level.target.import.trigger.interval": "24h"}, "in.c-bench.t0")
	pool := benchEvents(1536)
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := range pool {
		wg.Go(func() {
			ctx := context.Background()
			for left.Add(-1) >= 0 {
				w, err := m.Write(ctx, sourceKey, pool[i:i+1], nil)
				if err == nil {
					err = w.Wait(ctx, sink.LevelLocal)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchManager is a running manager with no disk limit whose Storage API never answers: the
// benchmarks measure the local level only.
// benchManager is a manager over the emulator, which checks the branch and creates the sink's
// table and token when a sink is defined. The emulator refuses every upload, so only the
// local level runs while the benchmarks measure: the emulator shares their process.
func benchManager(b *testing.B) *sink.Manager {
	cfg := testConfig(b.TempDir())
	cfg.MaxLocalBytes = 1 << 40
	em := startEmulator(b)
	em.em.InjectFault(emulator.Fault{Endpoint: "prepareFile", Count: 1 << 30, Status: 503})
	m, err := sink.New(cfg, sink.Deps{Storage: newClient(b, em.url), Clock: clock.Real()})
	if err != nil {
		b.Fatal(err)
	}
	run(b, m)
	return m
}
