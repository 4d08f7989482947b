package kafka_test

import (
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kbridge/kbridge/sink"
)

// benchAvroSchema is benchValue's record as an Avro schema.
const benchAvroSchema = `{"type":"record","name":"Event","fields":[{"name":"id","type":"long"},{"name":"type","type":"string"},
{"name":"user","type":{"type":"record","name":"User","fields":[{"name":"id","type":"string"},{"name":"name","type":"string"},
 {"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"},{"name":"zip","type":"string"}]}}]}},
{"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"},{"name":"qty","type":"int"},{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}]}}},
{"name":"padding","type":"string"},{"name":"placed","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"total","type":"double"}]}`

// BenchmarkConsumeAvroToLocal is BenchmarkConsumeToLocal with Avro values of about 1 KB in
// Confluent's wire format: each record is decoded by value.converter=AvroConverter (its schema
// fetched once from a Schema Registry over HTTP), mapped with three path columns and written to
// the local level.
func BenchmarkConsumeAvroToLocal(b *testing.B) {
	idle := sink.Patch{"storage.level.staging.upload.trigger.count": 10_000_000, "storage.level.staging.upload.trigger.size": "50MB",
		"storage.level.staging.upload.trigger.interval": "30m", "storage.level.target.import.trigger.interval": "24h",
		"storage.level.target.import.trigger.count": 10_000_000}
	reg := startRegistry(b)
	ss, err := reg.client.CreateSchema(context.Background(), "orders-value", sr.Schema{Schema: benchAvroSchema})
	if err != nil {
		b.Fatal(err)
	}
	e := newEnvWith(b, map[string]int32{"orders": 6}, benchColumns, idle, nil)
	cl := e.client(kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	// one record encoded with hamba/avro; each record is its header, its own id (the first
	// field, a zig-zag varint) and the rest of that record
	template := avroFramed(b, ss.ID, benchAvroSchema, map[string]any{"id": int64(0), "type": "order.created",
		"user":    map[string]any{"id": "u-1", "name": "Ann Example", "address": map[string]any{"city": "Prague", "zip": "11000"}},
		"items":   []any{map[string]any{"sku": "A-1", "qty": 1, "price": avroDecimal(b, "9.99")}, map[string]any{"sku": "B-2", "qty": 2, "price": avroDecimal(b, "19.50")}},
		"padding": strings.Repeat("x", 800), "placed": time.UnixMilli(1700000000000), "total": 54.99})
	header, rest := template[:5], template[6:] // id 0 is the single byte 0
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < b.N; i += 4 {
				v := binary.AppendVarint(append(make([]byte, 0, len(template)+8), header...), int64(i))
				cl.Produce(context.Background(), &kgo.Record{Topic: "orders", Value: append(v, rest...)}, nil)
			}
		})
	}
	wg.Wait()
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	ends := e.endOffsets(cl, "orders")
	c := e.consumer(pipeline(b, "topics", "orders", "batch.max.size", "1000", "kbridge.commit.level", "local",
		"value.converter", "io.confluent.connect.avro.AvroConverter", "value.converter.schema.registry.url", reg.url()))
	e.measureToLocal(b, c, ends)
}
