package kafka_test

import (
	"fmt"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/mapping"
)

// A pipeline's transforms run on every record before its mapping: a RegexRouter renames the
// topic the kafka.topic column shows, InsertField adds a field, Filter with HasHeaderKey drops
// records, whose offsets are committed all the same (the last record of the topic is one of
// them), and a record a transform fails on is dead-lettered at stage TRANSFORMATION.
func TestTransformsInPipeline(t *testing.T) {
	t.Parallel()
	columns := append(keyedColumns[:4:4], mapping.Column{Type: mapping.KindPath, Name: "source", Path: "source", RawString: true})
	e := newEnv(t, map[string]int32{"orders": 1}, columns)
	skip := []kgo.RecordHeader{{Key: "skip", Value: []byte("yes")}}
	e.produce(
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":1,"note":"a"}`)},
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":2}`), Headers: skip},
		&kgo.Record{Topic: "orders", Key: []byte("gone")}, // a tombstone: InsertField leaves it, then it is ignored
		&kgo.Record{Topic: "orders", Value: []byte(`"not an object"`)},
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":5}`)},
		&kgo.Record{Topic: "orders", Value: []byte(`{"id":6}`), Headers: skip},
	)
	reg := prometheus.NewRegistry()
	p := pipeline(t, "topics", "orders", "errors.tolerance", "all",
		"errors.deadletterqueue.topic.name", "orders-dlq", "errors.deadletterqueue.context.headers.enable", "true",
		"transforms", "skip,source,rename",
		"transforms.skip.type", "org.apache.kafka.connect.transforms.Filter",
		"transforms.skip.predicate", "hasSkip",
		"transforms.source.type", "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.source.static.field", "source", "transforms.source.static.value", "kafka",
		"transforms.rename.type", "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.rename.regex", "(.*)", "transforms.rename.replacement", "shop-$1",
		"predicates", "hasSkip",
		"predicates.hasSkip.type", "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
		"predicates.hasSkip.name", "skip")
	c, err := kafka.NewConsumer(p, kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()},
		Source: source, Writer: e.manager, Logger: slog.New(slog.DiscardHandler), Metrics: kafka.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	waitFor(t, 60*time.Second, "offsets committed past every record", func() bool { return e.committed("connect-events")["orders"][0] == 6 })
	rows := e.rows("in.c-kafka.events")
	sort.Slice(rows, func(i, j int) bool { return rows[i][2] < rows[j][2] })
	if got := fmt.Sprint(rows); got != "[[shop-orders 0 0 1 kafka] [shop-orders 0 4 5 kafka]]" {
		t.Fatalf("rows %s", got)
	}
	if got := series(t, reg, "kbridge_kafka_filtered_records_total", func(map[string]string) string { return "" })[""]; got != 2 {
		t.Errorf("filtered records %v, want 2", got)
	}

	dlq := e.client(kgo.ConsumeTopics("orders-dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	waitFor(t, 30*time.Second, "a dead letter", func() bool {
		dlq.PollRecords(t.Context(), 10).EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			got = append(got, fmt.Sprintf("%s|offset=%s|stage=%s|class=%s|%s", r.Value, h["__connect.errors.offset"],
				h["__connect.errors.stage"], h["__connect.errors.exception.class.name"], h["__connect.errors.exception.message"]))
		})
		return len(got) >= 1
	})
	want := `"not an object"|offset=3|stage=TRANSFORMATION|class=kbridge.transform.Failed|` +
		`transform source (org.apache.kafka.connect.transforms.InsertField$Value): only objects are supported in absence of schema for [field insertion], found: string`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("dead letters %q, want %q", got, want)
	}
}
