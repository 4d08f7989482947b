package kafka_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The active topics are those the consumer took records from, not those it subscribes to; each
// is reported once, and again after a reset.
func TestActiveTopics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 2, "payments": 1, "refunds": 1}, keyedColumns)
	c := e.consumer(pipeline(t, "topics.regex", "orders|payments|refunds", "topics", ""))
	var mu sync.Mutex
	var reported []string
	c.OnActiveTopic(func(topic string) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, topic)
	})
	e.produceRecords(20, "orders", "payments")
	runConsumer(t, c)
	waitFor(t, 30*time.Second, "orders and payments active", func() bool { return len(c.ActiveTopics()) == 2 })
	if got := strings.Join(c.ActiveTopics(), ","); got != "orders,payments" {
		t.Fatalf("active topics %s", got)
	}
	waitFor(t, 30*time.Second, "every record in the table", func() bool { return len(e.rows("in.c-kafka.events")) == 20 })

	c.ResetActiveTopics()
	if got := c.ActiveTopics(); len(got) != 0 {
		t.Fatalf("after reset: %v", got)
	}
	e.produce(&kgo.Record{Topic: "refunds", Value: []byte(`{"id":100}`)}, &kgo.Record{Topic: "orders", Value: []byte(`{"id":101}`)})
	waitFor(t, 30*time.Second, "orders and refunds active", func() bool { return len(c.ActiveTopics()) == 2 })
	if got := strings.Join(c.ActiveTopics(), ","); got != "orders,refunds" {
		t.Fatalf("active topics after reset %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(reported)
	if got := strings.Join(reported, ","); got != "orders,orders,payments,refunds" {
		t.Fatalf("reported %s, want each topic once per activation", got)
	}
}
