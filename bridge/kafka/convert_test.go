package kafka_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/bridge/schemaregistry"
	"github.com/kbridge/kbridge/mapping"
)

// testRegistry is a Schema Registry on a fixed address that can be stopped and started again.
type testRegistry struct {
	t      testing.TB
	addr   string
	reg    *schemaregistry.Registry
	stop   func()
	client *sr.Client
}

func startRegistry(t testing.TB) *testRegistry {
	t.Helper()
	reg, err := schemaregistry.New(schemaregistry.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := &testRegistry{t: t, reg: reg}
	r.start("127.0.0.1:0")
	t.Cleanup(func() { r.stop() })
	if r.client, err = sr.NewClient(sr.URLs(r.url())); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *testRegistry) url() string { return "http://" + r.addr }

func (r *testRegistry) start(addr string) {
	r.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.reg.Serve(ctx, ln) })
	r.stop = func() { cancel(); wg.Wait(); r.stop = func() {} }
}

// avroRecord registers schema under subject and encodes v in Confluent's wire format.
func (r *testRegistry) avroRecord(subject, schema string, v any) []byte {
	r.t.Helper()
	ss, err := r.client.CreateSchema(context.Background(), subject, sr.Schema{Schema: schema})
	if err != nil {
		r.t.Fatal(err)
	}
	return avroFramed(r.t, ss.ID, schema, v)
}

// parsedSchemas caches the schemas avroFramed encodes with: parsing is slower than encoding.
var parsedSchemas sync.Map // schema text → avro.Schema

func avroFramed(t testing.TB, id int, schema string, v any) []byte {
	t.Helper()
	parsed, ok := parsedSchemas.Load(schema)
	if !ok {
		s, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
		if err != nil {
			t.Fatal(err)
		}
		parsed, _ = parsedSchemas.LoadOrStore(schema, s)
	}
	b, err := avro.Marshal(parsed.(avro.Schema), v)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), b...)
}

const orderSchema = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},
{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},{"name":"note","type":["null","string"]}]}`

var convertColumns = []mapping.Column{
	{Type: mapping.KindKafkaOffset, Name: "offset", PrimaryKey: true},
	{Type: mapping.KindKafkaKey, Name: "key"},
	{Type: mapping.KindPath, Name: "id", Path: "id"},
	{Type: mapping.KindPath, Name: "price", Path: "price"},
	{Type: mapping.KindPath, Name: "note", Path: "note", RawString: true},
}

// Avro keys and values through the pipeline: each record's fields become columns, its key
// shows as the text it encodes; a record whose bytes do not decode (a JSON value, an unknown
// schema id) is dead-lettered at stage VALUE_CONVERTER with the reason, and the records after
// it are imported.
func TestConvertersInPipeline(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	e := newEnv(t, map[string]int32{"orders": 1}, convertColumns)
	key := func(s string) []byte { return reg.avroRecord("orders-key", `"string"`, s) }
	e.produce(
		&kgo.Record{Topic: "orders", Key: key("o-1"), Value: reg.avroRecord("orders-value", orderSchema,
			map[string]any{"id": int64(1), "price": avroDecimal(t, "12.34"), "note": "gift"})},
		&kgo.Record{Topic: "orders", Key: key("o-2"), Value: []byte(`{"id":2}`)},
		&kgo.Record{Topic: "orders", Key: key("o-3"), Value: avroFramed(t, 999, orderSchema,
			map[string]any{"id": int64(3), "price": avroDecimal(t, "1"), "note": nil})},
		&kgo.Record{Topic: "orders", Key: key("o-4"), Value: reg.avroRecord("orders-value", orderSchema,
			map[string]any{"id": int64(4), "price": avroDecimal(t, "-0.5"), "note": nil})},
	)
	p := pipeline(t, "topics", "orders", "errors.tolerance", "all",
		"errors.deadletterqueue.topic.name", "orders-dlq", "errors.deadletterqueue.context.headers.enable", "true",
		"key.converter", "io.confluent.connect.avro.AvroConverter", "key.converter.schema.registry.url", reg.url(),
		"value.converter", "io.confluent.connect.avro.AvroConverter", "value.converter.schema.registry.url", reg.url())
	runConsumer(t, e.consumer(p))
	waitFor(t, 60*time.Second, "offsets committed past every record", func() bool { return e.committed("connect-events")["orders"][0] == 4 })
	rows := e.rows("in.c-kafka.events")
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	if got := fmt.Sprint(rows); got != "[[0 o-1 1 12.34 gift] [3 o-4 4 -0.50 null]]" {
		t.Fatalf("rows %s", got)
	}
	got := deadLetters(t, e, "orders-dlq", 2)
	want := []string{
		`{"id":2}|offset=1|stage=VALUE_CONVERTER|class=io.confluent.connect.avro.AvroConverter|unknown magic byte 123: not Schema Registry wire format`,
		"\x00\x00\x00\x03\xe7\x06\x02d\x00|offset=2|stage=VALUE_CONVERTER|class=io.confluent.connect.avro.AvroConverter|" +
			"schema id 999: the schema registry answered 404: Schema 999 not found",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dead letters\n%q\nwant\n%q", got, want)
	}
}

// deadLetters reads n dead letters: value|offset|stage|class|message.
func deadLetters(t *testing.T, e *env, topic string, n int) []string {
	dlq := e.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	waitFor(t, 30*time.Second, "dead letters", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		dlq.PollRecords(ctx, 10).EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			got = append(got, fmt.Sprintf("%s|offset=%s|stage=%s|class=%s|%s", r.Value, h["__connect.errors.offset"],
				h["__connect.errors.stage"], h["__connect.errors.class.name"], h["__connect.errors.exception.message"]))
		})
		return len(got) >= n
	})
	return got
}

func avroDecimal(t testing.TB, s string) any {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("decimal %q", s)
	}
	return r
}

// The Schema Registry stops answering for 30 s mid-stream, while records of a schema the
// converter has not seen yet arrive: the partition waits (nothing committed past them, nothing
// dead-lettered), and once the registry is back every record is imported, none lost. The
// batches are large enough to be converted on both cores.
func TestRegistryDownMidStream(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	e := newEnv(t, map[string]int32{"orders": 1}, convertColumns)
	order := func(id int64) map[string]any {
		return map[string]any{"id": id, "price": avroDecimal(t, "1.50"), "note": nil}
	}
	var first []*kgo.Record
	for i := range 50 {
		first = append(first, &kgo.Record{Topic: "orders", Value: reg.avroRecord("orders-value", orderSchema, order(int64(i)))})
	}
	e.produce(first...)
	metrics := prometheus.NewRegistry()
	p := pipeline(t, "topics", "orders", "errors.tolerance", "all", "errors.deadletterqueue.topic.name", "orders-dlq",
		"batch.max.size", "500", // batches big enough to be converted on every core
		"value.converter", "io.confluent.connect.avro.AvroConverter", "value.converter.schema.registry.url", reg.url())
	c, err := kafka.NewConsumer(p, kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()},
		Source: source, Writer: e.manager, Logger: slog.New(slog.DiscardHandler), Metrics: kafka.NewMetrics(metrics)})
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	waitFor(t, 60*time.Second, "the first 50 committed", func() bool { return e.committed("connect-events")["orders"][0] == 50 })

	// a second version of the schema, registered before the registry goes away: its id is new
	// to the converter, which must fetch it
	v2 := `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},
{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},{"name":"note","type":["null","string"]},
{"name":"channel","type":"string","default":"web"}]}`
	var second []*kgo.Record
	for i := 50; i < 300; i++ {
		v := order(int64(i))
		v["channel"] = "app"
		second = append(second, &kgo.Record{Topic: "orders", Value: reg.avroRecord("orders-value", v2, v)})
	}
	addr := reg.addr
	reg.stop()
	down := time.Now()
	e.produce(second...)
	for time.Since(down) < 30*time.Second {
		if at := e.committed("connect-events")["orders"][0]; at != 50 {
			t.Fatalf("committed %d while the registry was down, want 50", at)
		}
		time.Sleep(time.Second)
	}
	retries := series(t, metrics, "kbridge_kafka_schema_registry_retries_total", func(map[string]string) string { return "" })[""]
	if retries < 3 {
		t.Errorf("%v retries in 30 s without a registry", retries)
	}
	reg.start(addr)
	waitFor(t, 60*time.Second, "every record committed", func() bool { return e.committed("connect-events")["orders"][0] == 300 })
	waitFor(t, 60*time.Second, "300 rows", func() bool { return len(e.rows("in.c-kafka.events")) == 300 })
	ids := map[string]bool{}
	for _, row := range e.rows("in.c-kafka.events") {
		ids[row[2]] = true
	}
	if len(ids) != 300 {
		t.Errorf("%d distinct ids in 300 rows", len(ids))
	}
	if n := series(t, metrics, "kbridge_kafka_dead_letter_records_total", func(map[string]string) string { return "" })[""]; n != 0 {
		t.Errorf("%v records dead-lettered", n)
	}
	end := e.endOffsets(e.client(), "orders-dlq")
	if end[0] != 0 {
		t.Errorf("the dead-letter topic holds %d records", end[0])
	}
}

// Transforms run on the decoded record: ReplaceField renames a field of the Avro value, and
// ValueToKey sets the key from a decoded field, which kafka.key then shows.
func TestTransformsSeeDecodedRecords(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	columns := []mapping.Column{
		{Type: mapping.KindKafkaOffset, Name: "offset", PrimaryKey: true},
		{Type: mapping.KindKafkaKey, Name: "key"},
		{Type: mapping.KindPath, Name: "order_id", Path: "order_id"},
	}
	e := newEnv(t, map[string]int32{"orders": 1}, columns)
	e.produce(&kgo.Record{Topic: "orders", Value: reg.avroRecord("orders-value", orderSchema,
		map[string]any{"id": int64(7), "price": avroDecimal(t, "1.00"), "note": "x"})})
	p := pipeline(t, "topics", "orders",
		"value.converter", "io.confluent.connect.avro.AvroConverter", "value.converter.schema.registry.url", reg.url(),
		"transforms", "key,rename",
		"transforms.key.type", "org.apache.kafka.connect.transforms.ValueToKey", "transforms.key.fields", "note",
		"transforms.rename.type", "org.apache.kafka.connect.transforms.ReplaceField$Value", "transforms.rename.renames", "id:order_id")
	runConsumer(t, e.consumer(p))
	waitFor(t, 60*time.Second, "the record committed", func() bool { return e.committed("connect-events")["orders"][0] == 1 })
	if got := fmt.Sprint(e.rows("in.c-kafka.events")); got != `[[0 {"note":"x"} 7]]` {
		t.Fatalf("rows %s", got)
	}
}
