package convert_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kbridge/kbridge/bridge/convert"
)

// BenchmarkAvro decodes a record of about 1 KB (an order with a nested record, an array of
// records, decimals, a timestamp and 800 bytes of text) to JSON, appended to a reused buffer;
// its schema is fetched once.
func BenchmarkAvro(b *testing.B) {
	url := registryURL(b)
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		b.Fatal(err)
	}
	schema := `{"type":"record","name":"Event","fields":[{"name":"id","type":"long"},{"name":"type","type":"string"},
{"name":"user","type":{"type":"record","name":"User","fields":[{"name":"id","type":"string"},{"name":"name","type":"string"}]}},
{"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"},{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}]}}},
{"name":"padding","type":"string"},{"name":"placed","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"total","type":"double"}]}`
	ss, err := cl.CreateSchema(context.Background(), "bench-value", sr.Schema{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	var h sr.ConfluentHeader
	rec, _ := h.AppendEncode(nil, ss.ID, nil)
	body, _ := hex.DecodeString("f00f" + "1a" + hex.EncodeToString([]byte("order.created")) + "06752d31" + "16" + hex.EncodeToString([]byte("Ann Example")) +
		"04" + "0641" + "2d31" + "0403e7" + "0642" + "2d32" + "04079e" + "00")
	rec = append(rec, body...)
	pad := strings.Repeat("x", 800)
	rec = append(rec, 0xc0, 0x0c) // 800, zig-zag varint
	rec = append(rec, pad...)
	rec = append(rec, 0xf6, 0xa1, 0xab, 0xfe, 0xf9, 0x62)             // 1700000000123
	rec = append(rec, 0x1f, 0x85, 0xeb, 0x51, 0xb8, 0x7e, 0x4b, 0x40) // 54.99
	c := converter(b, map[string]string{"value.converter": convert.AvroConverter, "value.converter.schema.registry.url": url})
	out, err := c.Convert(context.Background(), rec)
	if err != nil {
		b.Fatal(err)
	}
	if !strings.HasPrefix(string(out), `{"id":1016,"type":"order.created","user":{"id":"u-1","name":"Ann Example"},"items":[{"sku":"A-1","price":9.99},{"sku":"B-2","price":19.50}],"padding":"xxx`) {
		b.Fatalf("decoded %s", out)
	}
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	b.ResetTimer()
	buf := make([]byte, 0, 4096) // as the Kafka consumer does: appended to a reused arena
	for b.Loop() {
		if buf, err = c.(convert.Appender).AppendConvert(context.Background(), buf[:0], rec); err != nil {
			b.Fatal(err)
		}
	}
}
