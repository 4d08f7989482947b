package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A topic deleted and created again under its name is a new stream: its records start again
// at offset 0 and are all imported, although the sinks hold records of the old topic at those
// offsets.
func TestRecreatedTopicIsImported(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1}, unkeyedColumns)
	produce := func(first, n int) {
		var recs []*kgo.Record
		for i := first; i < first+n; i++ {
			recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
		}
		e.produce(recs...)
	}
	produce(0, 300)
	for round := range 2 { // with the consumer running, then started again
		c := e.consumer(pipeline(t, "topics", "orders"))
		stop := runConsumer(t, c)
		want := 300 + round*200
		waitFor(t, time.Minute, "the old topic's records", func() bool { return len(e.rows("in.c-kafka.events")) >= want })
		if round == 1 {
			stop()
			c = e.consumer(pipeline(t, "topics", "orders"))
			stop = runConsumer(t, c)
		}
		adm := admin(e.client())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := adm.DeleteTopics(ctx, "orders"); err != nil {
			t.Fatal(err)
		}
		if _, err := adm.CreateTopics(ctx, 1, 1, nil, "orders"); err != nil {
			t.Fatal(err)
		}
		cancel()
		produce(want, 200) // offsets 0 to 199 of the new topic
		e.checkExactlyOnce("in.c-kafka.events", want+200)
		_ = stop()
	}
}
