package kafka_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

var benchColumns = []mapping.Column{
	{Type: mapping.KindPath, Name: "id", Path: "id"},
	{Type: mapping.KindPath, Name: "type", Path: "type", RawString: true},
	{Type: mapping.KindPath, Name: "city", Path: "user.address.city", RawString: true},
}

// benchValue is a 1 KB JSON record.
func benchValue(i int) []byte {
	return fmt.Appendf(nil, `{"id":%d,"type":"order.created","user":{"id":"u-%d","name":"Ann Example","address":{"city":"Prague","zip":"11000"}},`+
		`"items":[{"sku":"A-1","qty":1,"price":9.99},{"sku":"B-2","qty":2,"price":19.5}],"padding":"%s","total":54.99}`,
		i, i, strings.Repeat("x", 800))
}

// BenchmarkConsumeToLocal: b.N records (run with -benchtime Nx) are produced to kfake first; the
// timer covers consuming them, mapping them with three path columns and writing them to the
// local level (gzip, group commit), until every partition's watermark at local passes its
// last record. Nothing is uploaded meanwhile.
func BenchmarkConsumeToLocal(b *testing.B) {
	idle := sink.Patch{"storage.level.staging.upload.trigger.count": 10_000_000, "storage.level.staging.upload.trigger.size": "50MB",
		"storage.level.staging.upload.trigger.interval": "30m", "storage.level.target.import.trigger.interval": "24h",
		"storage.level.target.import.trigger.count": 10_000_000}
	e := newEnvWith(b, map[string]int32{"orders": 6}, benchColumns, idle, nil)
	cl := e.client(kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < b.N; i += 4 {
				cl.Produce(context.Background(), &kgo.Record{Topic: "orders", Value: benchValue(i)}, nil)
			}
		})
	}
	wg.Wait()
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	ends := e.endOffsets(cl, "orders")
	total := int64(0)
	for _, end := range ends {
		total += end
	}
	if total != int64(b.N) {
		b.Fatalf("the topic holds %d records, want %d", total, b.N)
	}
	c := e.consumer(pipeline(b, "topics", "orders", "batch.max.size", "1000", "kbridge.commit.level", "local"))
	e.measureToLocal(b, c, ends)
}

// measureToLocal runs c and reports records/s until every record below ends is at the local
// level (fsynced).
func (e *env) measureToLocal(b *testing.B, c interface{ Run(context.Context) error }, ends map[int32]int64) {
	b.ResetTimer()
	start := time.Now()
	runConsumer(b, c)
	waitFor(b, 10*time.Minute, "every record at local", func() bool {
		held, err := e.manager.Recovered(source) // per partition, the highest offset fsynced
		if err != nil {
			b.Fatal(err)
		}
		for p, end := range ends {
			if at, ok := held["orders/"+strconv.Itoa(int(p))]; end > 0 && (!ok || at < end-1) {
				return false
			}
		}
		return true
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// endOffsets returns the next offset of every partition of topic.
func (e *env) endOffsets(cl *kgo.Client, topic string) map[int32]int64 {
	e.t.Helper()
	out := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := admin(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Each(func(o kadmOffset) { out[o.Partition] = o.Offset })
	return out
}

// TestLatencyToTable measures the time from producing a record to its row in the table, with
// the default import interval and with 30 s. It takes minutes: set KBRIDGE_LATENCY=1.
func TestLatencyToTable(t *testing.T) {
	if os.Getenv("KBRIDGE_LATENCY") == "" {
		t.Skip("set KBRIDGE_LATENCY=1 to measure (takes about 7 minutes)")
	}
	for _, tc := range []struct {
		name     string
		settings sink.Patch
		adjust   func(*sink.Config)
	}{
		{"defaults", sink.Patch{}, func(c *sink.Config) { d := sink.DefaultConfig(); c.Staging, c.Target = d.Staging, d.Target }},
		{"import every 30s", sink.Patch{"storage.level.target.import.trigger.interval": "30s",
			"storage.level.staging.upload.trigger.interval": "10s"}, func(c *sink.Config) { c.Target.MinInterval = 30 * time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, map[string]int32{"orders": 2}, keyedColumns, tc.settings, tc.adjust)
			runConsumer(t, e.consumer(pipeline(t, "topics", "orders")))
			cl := e.client()
			sent := map[string]time.Time{}
			seen := map[string]time.Duration{}
			deadline := time.Now().Add(200 * time.Second)
			for i := 0; time.Now().Before(deadline); i++ {
				if i < 600 { // 150 s of records, 4 per second
					id := strconv.Itoa(i)
					sent[id] = time.Now()
					cl.Produce(context.Background(), &kgo.Record{Topic: "orders", Value: []byte(`{"id":` + id + `}`)}, nil)
				}
				if i%4 == 0 {
					for _, r := range e.rows("in.c-kafka.events") {
						if _, ok := seen[r[3]]; !ok {
							seen[r[3]] = time.Since(sent[r[3]])
						}
					}
				}
				time.Sleep(250 * time.Millisecond)
			}
			var lat []time.Duration
			for _, d := range seen {
				lat = append(lat, d)
			}
			slices.Sort(lat)
			if len(lat) < 500 {
				t.Fatalf("only %d of 600 records arrived", len(lat))
			}
			t.Logf("%s: %d records, latency p50 %s, p90 %s, max %s", tc.name, len(lat),
				lat[len(lat)/2].Round(time.Second), lat[len(lat)*9/10].Round(time.Second), lat[len(lat)-1].Round(time.Second))
		})
	}
}
