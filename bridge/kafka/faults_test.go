package kafka_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/sinktest"
)

// unkeyedColumns have no primary key: a record imported twice is two rows.
var unkeyedColumns = []mapping.Column{
	{Type: mapping.KindPath, Name: "id", Path: "id"},
	{Type: mapping.KindKafkaTopic, Name: "topic"},
	{Type: mapping.KindKafkaPartition, Name: "partition"},
	{Type: mapping.KindKafkaOffset, Name: "offset"},
}

// A single failed write or fsync of a slice, at a random batch: the batch is read again and
// every record lands exactly once, with no primary key, and the pipeline keeps running.
func TestSingleDiskFailureLosesNothing(t *testing.T) {
	t.Parallel()
	faults := []struct {
		op  string
		err error
	}{
		{"write", syscall.ENOSPC}, {"write", syscall.EIO}, {"sync", syscall.ENOSPC}, {"sync", syscall.EIO},
	}
	for seed := range uint64(8) {
		f := faults[seed%uint64(len(faults))]
		rng := rand.New(rand.NewPCG(seed, 14))
		fsys := &sinktest.FaultFS{Op: f.op, Err: f.err, At: 1 + rng.Int64N(12)}
		t.Run(fmt.Sprintf("seed%d-%s-%v-at%d", seed, f.op, f.err, fsys.At), func(t *testing.T) {
			t.Parallel()
			e := &env{t: t}
			e.startCluster(map[string]int32{"orders": 2, "payments": 1})
			e.manager = e.startManagerOn(fsys, unkeyedColumns, sink.Patch{
				"storage.level.local.encoding.sync.intervalTrigger": "10ms",
				"storage.level.local.encoding.sync.countTrigger":    40,
				"storage.level.staging.upload.trigger.count":        100,
				"storage.level.target.import.trigger.count":         1}, nil)
			const n = 3000
			c := e.consumer(pipeline(t, "batch.max.size", "50"))
			runConsumer(t, c)
			counts := e.produceSlowly(n, 30, "orders", "payments")
			e.waitCommitted(counts, 2*time.Minute)
			if !fsys.Fired() {
				t.Fatalf("the fault was not injected (%d calls); rows %d", fsys.Calls(), len(e.rows("in.c-kafka.events")))
			}
			e.checkExactlyOnce("in.c-kafka.events", n)
			if state, err := c.State(); state != kafka.StateRunning || err != nil {
				t.Fatalf("state %s, %v; want RUNNING", state, err)
			}
		})
	}
}
