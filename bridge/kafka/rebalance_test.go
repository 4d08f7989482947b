package kafka_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Two members share the group; one leaves while records keep coming. Every record reaches the
// table, and the group's offsets end at the end of every partition.
func TestRebalanceLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 6}, keyedColumns)
	p := pipeline(t, "topics", "orders", "batch.max.size", "50")
	a, b := e.consumer(p), e.consumer(p)
	stopA := runConsumer(t, a)
	runConsumer(t, b)

	const rounds, perRound = 10, 100
	for round := range rounds {
		var recs []*kgo.Record
		for i := range perRound {
			recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d}`, round*perRound+i))})
		}
		e.produce(recs...)
		if round == rounds/2 {
			if err := stopA(); err != nil { // a leaves: its partitions move to b
				t.Fatalf("member a: %v", err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	const n = rounds * perRound
	waitFor(t, 90*time.Second, "every record in the table", func() bool { return len(e.rows("in.c-kafka.events")) >= n })
	ids := map[string]bool{}
	for _, r := range e.rows("in.c-kafka.events") {
		ids[r[3]] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct ids in the table, want %d", len(ids), n)
	}
	waitFor(t, 30*time.Second, "offsets committed to the end", func() bool {
		total := int64(0)
		for _, at := range e.committed("connect-events")["orders"] {
			total += at
		}
		return total == n
	})
	if records, _ := b.Counts(); records == 0 {
		t.Fatal("member b consumed nothing")
	}
}
