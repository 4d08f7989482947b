package kafka_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/mapping"
)

// A topics.regex pipeline with topic2table.map writes each topic into its own table, created
// on the topic's first record with the columns of the source's sink: a table the map names,
// and tables named after the other topics (a dot, which a table name cannot have, becomes an
// underscore). The source's own table gets nothing. Offsets are committed to the end of every
// topic, and a new consumer finds the tables' ledgers again: records produced after the restart
// land once, and nothing is written twice.
func TestTopicsIntoTables(t *testing.T) {
	t.Parallel()
	topics := map[string]int32{"shop-orders": 2, "shop-payments": 1, "shop.refunds": 1, "other": 1}
	e := newEnv(t, topics, keyedColumns)
	produce := func(first, n int) map[string]int {
		var recs []*kgo.Record
		for i := first; i < first+n; i++ {
			topic := []string{"shop-orders", "shop-payments", "shop.refunds"}[i%3]
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
		}
		recs = append(recs, &kgo.Record{Topic: "other", Value: []byte(`{"id":-1}`)}) // not matched
		e.produce(recs...)
		counts := map[string]int{}
		for _, r := range recs {
			if r.Topic != "other" {
				counts[fmt.Sprintf("%s/%d", r.Topic, r.Partition)]++
			}
		}
		return counts
	}
	tables := map[string]string{"shop-orders": "in.c-kafka.orders", "shop-payments": "in.c-kafka.shop-payments", "shop.refunds": "in.c-kafka.shop_refunds"}
	check := func(n int) {
		t.Helper()
		want := map[string][]string{}
		for i := range n {
			topic := []string{"shop-orders", "shop-payments", "shop.refunds"}[i%3]
			want[topic] = append(want[topic], fmt.Sprint(i))
		}
		for topic, table := range tables {
			waitFor(t, 60*time.Second, "the rows of "+topic+" in "+table, func() bool { return len(e.rows(table)) >= len(want[topic]) })
		}
		time.Sleep(300 * time.Millisecond) // a duplicate import would land now
		for topic, table := range tables {
			var ids []string
			for _, row := range e.rows(table) {
				if row[0] != topic {
					t.Errorf("table %s has a row of topic %s", table, row[0])
				}
				ids = append(ids, row[3])
			}
			sort.Slice(ids, func(i, j int) bool { return len(ids[i]) < len(ids[j]) || len(ids[i]) == len(ids[j]) && ids[i] < ids[j] })
			if fmt.Sprint(ids) != fmt.Sprint(want[topic]) {
				t.Errorf("table %s: ids %v, want %v", table, ids, want[topic])
			}
		}
		if rows := e.rows("in.c-kafka.events"); len(rows) > 0 {
			t.Errorf("the source's own table got %d rows", len(rows))
		}
	}
	p := pipeline(t, "topics", "", "topics.regex", "shop.*", "topic2table.map", "shop-orders: orders")

	counts := produce(0, 30)
	stop := runConsumer(t, e.consumer(p))
	check(30)
	e.waitCommitted(counts, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	more := produce(30, 30)
	for k, v := range more {
		counts[k] += v
	}
	runConsumer(t, e.consumer(p))
	check(60)
	e.waitCommitted(counts, 60*time.Second)
}

// A RegexRouter's topic names the table: two versions of a topic go into one table. (Its
// kafka.topic column shows the routed topic, so it is no primary key here: the offsets of
// both topics would collide.)
func TestRoutedTopicNamesTable(t *testing.T) {
	t.Parallel()
	columns := []mapping.Column{{Type: mapping.KindKafkaTopic, Name: "topic"}, {Type: mapping.KindKafkaPartition, Name: "partition"},
		{Type: mapping.KindKafkaOffset, Name: "offset"}, {Type: mapping.KindPath, Name: "id", Path: "id", PrimaryKey: true}}
	e := newEnv(t, map[string]int32{"orders-v1": 1, "orders-v2": 1}, columns)
	counts := e.produceRecords(10, "orders-v1", "orders-v2")
	p := pipeline(t, "topics", "orders-v1,orders-v2", "topic2table.map", "",
		"transforms", "version", "transforms.version.type", "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.version.regex", "(.*)-v[0-9]+", "transforms.version.replacement", "$1")
	runConsumer(t, e.consumer(p))
	e.waitCommitted(counts, 60*time.Second)
	waitFor(t, 60*time.Second, "every record in the table", func() bool { return len(e.rows("in.c-kafka.orders")) >= 10 })
	ids := map[string]bool{}
	for _, row := range e.rows("in.c-kafka.orders") {
		if row[0] != "orders" {
			t.Errorf("row %v: topic %s, want the routed topic orders", row, row[0])
		}
		ids[row[3]] = true
	}
	if len(ids) != 10 {
		t.Fatalf("ids %v, want 10", ids)
	}
}
