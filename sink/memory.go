package sink

import (
	"math"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Memory back pressure: while the live Go heap (as of the last collection) is above
// memoryHigh of the runtime's memory limit (GOMEMLIMIT, or the one the daemon derived from
// the container's limit), every sink refuses writes with ErrNotReady; the Kafka bridge pauses
// its partitions and the intake answers 503 until the heap is back under memoryLow. Without a
// memory limit the guard does nothing.
const (
	memoryHigh          = 0.80
	memoryLow           = 0.70
	memoryCheckInterval = 50 * time.Millisecond
)

// memoryGuard samples the heap at most every memoryCheckInterval, on the writers' path: one
// writer reads the runtime metrics, the others use the last answer.
type memoryGuard struct {
	high    atomic.Bool
	mu      sync.Mutex
	checked time.Time
	samples [2]rtmetrics.Sample
}

func newMemoryGuard() *memoryGuard {
	g := &memoryGuard{}
	g.samples[0].Name = "/gc/heap/live:bytes"
	g.samples[1].Name = "/gc/gomemlimit:bytes"
	return g
}

// refuse reports whether the heap is near the memory limit.
func (g *memoryGuard) refuse() bool {
	if g.mu.TryLock() {
		if now := time.Now(); now.Sub(g.checked) >= memoryCheckInterval {
			g.checked = now
			rtmetrics.Read(g.samples[:])
			var live, limit uint64
			if g.samples[0].Value.Kind() == rtmetrics.KindUint64 && g.samples[1].Value.Kind() == rtmetrics.KindUint64 {
				live, limit = g.samples[0].Value.Uint64(), g.samples[1].Value.Uint64()
			}
			switch {
			case limit == 0 || limit >= math.MaxInt64:
				g.high.Store(false)
			case float64(live) >= memoryHigh*float64(limit):
				g.high.Store(true)
			case float64(live) < memoryLow*float64(limit):
				g.high.Store(false)
			}
		}
		g.mu.Unlock()
	}
	return g.high.Load()
}
