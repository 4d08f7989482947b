package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/kafka"
)

// A dead letter larger than the dead-letter topic's max.message.bytes is refused by Kafka for
// good: the task fails with the reason instead of retrying for ever while it reads RUNNING, and
// no offset is committed past the record, so it and those behind it are read again on restart.
func TestOversizedDeadLetterFailsTheTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1}, keyedColumns)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	small := "200"
	if _, err := admin(e.client()).CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": &small}, "orders-dlq"); err != nil {
		t.Fatal(err)
	}
	e.produce(
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":1}`)},
		&kgo.Record{Topic: "orders", Value: []byte(`{"other":"` + strings.Repeat("x", 1000) + `"}`)},
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":3}`)},
	)
	c := e.consumer(pipeline(t, "topics", "orders", "batch.max.size", "1", "errors.tolerance", "all",
		"errors.deadletterqueue.topic.name", "orders-dlq", "errors.deadletterqueue.context.headers.enable", "true"))
	stop := runConsumer(t, c)
	waitFor(t, 60*time.Second, "the pipeline to fail", func() bool { s, _ := c.State(); return s == kafka.StateFailed })
	_, reason := c.State()
	if reason == nil || !strings.Contains(reason.Error(), "dead letter of record orders/0@1") ||
		!strings.Contains(reason.Error(), "not accepted by topic orders-dlq") || !strings.Contains(reason.Error(), "MESSAGE_TOO_LARGE") {
		t.Fatalf("state reason: %v", reason)
	}
	_ = stop()
	if at := e.committed("connect-events")["orders"][0]; at > 1 {
		t.Fatalf("committed %d: past the record whose dead letter was refused", at)
	}
}
