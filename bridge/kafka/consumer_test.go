package kafka_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/mapping"
)

// keyedColumns make (topic, partition, offset) the primary key: effectively-once.
var keyedColumns = []mapping.Column{
	{Type: mapping.KindKafkaTopic, Name: "topic", PrimaryKey: true},
	{Type: mapping.KindKafkaPartition, Name: "partition", PrimaryKey: true},
	{Type: mapping.KindKafkaOffset, Name: "offset", PrimaryKey: true},
	{Type: mapping.KindPath, Name: "id", Path: "id"},
}

func pipeline(t testing.TB, keys ...string) kafka.Pipeline {
	t.Helper()
	m := map[string]string{"name": "events", "kbridge.source": source.SourceID, "topics": "orders,payments", "batch.max.size": "100"}
	for i := 0; i+1 < len(keys); i += 2 {
		m[keys[i]] = keys[i+1]
	}
	p, _, err := kafka.ParsePipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) consumer(p kafka.Pipeline) *kafka.Consumer {
	e.t.Helper()
	c, err := kafka.NewConsumer(p, kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()},
		Source: source, Writer: e.manager, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// produceRecords produces n JSON records spread over the topics' partitions and returns how
// many went to each topic/partition.
func (e *env) produceRecords(n int, topics ...string) map[string]int {
	var recs []*kgo.Record
	for i := range n {
		topic := topics[i%len(topics)]
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("k", i%7)), Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
	}
	e.produce(recs...)
	counts := map[string]int{}
	for _, r := range recs {
		counts[fmt.Sprintf("%s/%d", r.Topic, r.Partition)]++
	}
	return counts
}

func TestConsumeIntoTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 3, "payments": 2}, keyedColumns)
	const n = 1000
	counts := e.produceRecords(n, "orders", "payments")
	c := e.consumer(pipeline(t))
	stop := runConsumer(t, c)

	waitFor(t, 60*time.Second, "every record in the table", func() bool { return len(e.rows("in.c-kafka.events")) >= n })
	rows := e.rows("in.c-kafka.events")
	ids := map[string]bool{}
	for _, r := range rows {
		ids[r[3]] = true
	}
	if len(rows) != n || len(ids) != n {
		t.Fatalf("%d rows with %d distinct ids, want %d", len(rows), len(ids), n)
	}
	e.waitCommitted(counts, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if state, err := c.State(); state != kafka.StateStopped || err != nil {
		t.Fatalf("state %s, %v", state, err)
	}
}

func TestDeadLetterAndTombstones(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1}, keyedColumns)
	e.produce(
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":1}`)},
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":`), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}},
		&kgo.Record{Topic: "orders", Key: []byte("gone"), Value: nil}, // a tombstone: ignored by default
		&kgo.Record{Topic: "orders", Value: []byte(`{"other":2}`)},
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":4}`)},
	)
	c := e.consumer(pipeline(t, "topics", "orders", "errors.tolerance", "all",
		"errors.deadletterqueue.topic.name", "orders-dlq", "errors.deadletterqueue.context.headers.enable", "true"))
	runConsumer(t, c)
	waitFor(t, 60*time.Second, "offsets committed past every record", func() bool { return e.committed("connect-events")["orders"][0] == 5 })
	rows := e.rows("in.c-kafka.events")
	sort.Slice(rows, func(i, j int) bool { return rows[i][2] < rows[j][2] })
	if got := fmt.Sprint(rows); got != "[[orders 0 0 1] [orders 0 4 4]]" {
		t.Fatalf("rows %s", got)
	}

	dlq := e.client(kgo.ConsumeTopics("orders-dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	waitFor(t, 30*time.Second, "two dead letters", func() bool {
		fs := dlq.PollRecords(t.Context(), 10)
		fs.EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			got = append(got, fmt.Sprintf("%s|offset=%s|stage=%s|class=%s|trace=%s|%s", r.Value, h["__connect.errors.offset"],
				h["__connect.errors.stage"], h["__connect.errors.exception.class.name"], h["trace"], h["__connect.errors.exception.message"]))
		})
		return len(got) >= 2
	})
	want := []string{
		`{"id":|offset=1|stage=TRANSFORMATION|class=kbridge.mapping.InvalidBody|trace=t1|invalid value for column "id": invalid JSON: unexpected end of JSON input`,
		`{"other":2}|offset=3|stage=TRANSFORMATION|class=kbridge.mapping.NotFound|trace=|invalid value for column "id": path "id" not found in the body`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("dead letters:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if records, dead := c.Counts(); records != 5 || dead != 2 {
		t.Fatalf("counts: %d records, %d dead-lettered", records, dead)
	}
}

func TestToleranceNoneStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1}, keyedColumns)
	e.produce(&kgo.Record{Topic: "orders", Value: []byte(`{"id":1}`)}, &kgo.Record{Topic: "orders", Value: []byte(`oops`)},
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":3}`)})
	c := e.consumer(pipeline(t, "topics", "orders", "batch.max.size", "1"))
	stop := runConsumer(t, c)
	waitFor(t, 30*time.Second, "the pipeline to fail", func() bool { s, _ := c.State(); return s == kafka.StateFailed })
	err := stop()
	var ce *mapping.ColumnError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "record orders/0@1 rejected (errors.tolerance=none)") {
		t.Fatalf("Run: %v", err)
	}
	waitFor(t, 30*time.Second, "the first record imported", func() bool { return len(e.rows("in.c-kafka.events")) == 1 })
	if at := e.committed("connect-events")["orders"][0]; at > 1 {
		t.Fatalf("committed %d: past the rejected record", at)
	}
}

// With tasks.max=2, the task that takes a rejected record fails with it; the other is stopped
// and says which task stopped it.
func TestTaskStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 2}, keyedColumns)
	c := e.consumer(pipeline(t, "topics", "orders", "tasks.max", "2"))
	for _, s := range c.TaskStates() {
		if s.State != kafka.StateStopped || s.Err != nil {
			t.Fatalf("before Run: %+v", c.TaskStates())
		}
	}
	stop := runConsumer(t, c)
	adm := admin(e.client())
	waitFor(t, 30*time.Second, "a partition for each task", func() bool {
		groups, err := adm.DescribeGroups(t.Context(), "connect-events")
		if err != nil || len(groups["connect-events"].Members) != 2 || groups["connect-events"].State != "Stable" {
			return false
		}
		for _, m := range groups["connect-events"].Members {
			if a, ok := m.Assigned.AsConsumer(); !ok || len(a.Topics) != 1 || len(a.Topics[0].Partitions) != 1 {
				return false
			}
		}
		return true
	})
	if s := c.TaskStates(); s[0].State != kafka.StateRunning || s[1].State != kafka.StateRunning {
		t.Fatalf("running: %+v", s)
	}
	e.produce(&kgo.Record{Topic: "orders", Value: []byte(`oops`)})
	waitFor(t, 30*time.Second, "the pipeline to fail", func() bool { s, _ := c.State(); return s == kafka.StateFailed })
	_ = stop()
	states := c.TaskStates()
	failed := slices.IndexFunc(states, func(s kafka.TaskState) bool {
		return s.Err != nil && strings.HasPrefix(s.Err.Error(), "record orders/")
	})
	if failed < 0 || len(states) != 2 {
		t.Fatalf("no task failed with the record: %+v", states)
	}
	other := states[1-failed]
	want := fmt.Sprintf("stopped because task %d failed: record orders/", failed)
	if states[failed].State != kafka.StateFailed || other.State != kafka.StateFailed || other.Err == nil ||
		!strings.HasPrefix(other.Err.Error(), want) {
		t.Fatalf("task states %+v, want the other task FAILED with %q…", states, want)
	}
}
