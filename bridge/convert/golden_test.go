package convert_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kbridge/kbridge/bridge/convert"
	"github.com/kbridge/kbridge/bridge/schemaregistry"
)

// Schemas registered in this order get ids 1 to 5, the ids in the golden bytes below.
var goldenSchemas = []struct {
	subject string
	schema  sr.Schema
}{
	// 1: the descriptor confluent-kafka-python 1.7's ProtobufSerializer registers for
	// testdata/interop/produce.py's Order message (a base64 FileDescriptorProto).
	{"interop-proto-value", sr.Schema{Type: sr.TypeProtobuf, Schema: "ChNpbnRlcm9wL29yZGVyLnByb3RvEgdpbnRlcm9wIkUKBU9yZGVyEgoKAmlkGAEgASgJEhAKCHF1YW50aXR5GAIgASgFEg0KBXByaWNlGAMgASgBEg8KB2V4cHJlc3MYBCABKAhiBnByb3RvMw=="}},
	// 2: produce.py's JSON schema, as its JSONSerializer registers it.
	{"interop-json-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
  "properties": {"id": {"type": "string"}, "quantity": {"type": "integer"}, "price": {"type": "number"}},
  "required": ["id", "quantity", "price"]}`}},
	// 3: the record of the Avro specification's example of binary encoding (Records).
	{"golden-spec-value", sr.Schema{Schema: `{"type":"record","name":"test","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}`}},
	// 4: produce.py's Avro Order, with logical types and a union.
	{"golden-order-value", sr.Schema{Schema: `{"type": "record", "name": "Order", "namespace": "interop", "fields": [
  {"name": "id", "type": "string"},
  {"name": "quantity", "type": "int"},
  {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
  {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "note", "type": ["null", "string"], "default": null},
  {"name": "express", "type": "boolean"}]}`}},
	// 5: a .proto text with nested messages, for message indexes [1, 2, 3]: B, its third
	// nested message E, E's fourth nested message H.
	{"golden-nested-value", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3";
package golden;
message A {}
message B {
  message C {}
  message D {}
  message E {
    message F {}
    message G {}
    message X {}
    message H { string name = 1; int64 n = 2; }
  }
}`}},
}

// registryURL serves a Schema Registry over HTTP with goldenSchemas registered through
// franz-go's client.
func registryURL(t testing.TB) string {
	t.Helper()
	reg, err := schemaregistry.New(schemaregistry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	cl, err := sr.NewClient(sr.URLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range goldenSchemas {
		got, err := cl.CreateSchema(context.Background(), s.subject, s.schema)
		if err != nil || got.ID != i+1 {
			t.Fatalf("register %s: id %d, %v", s.subject, got.ID, err)
		}
	}
	return srv.URL
}

func converter(t testing.TB, keys map[string]string) convert.Converter {
	t.Helper()
	c, _, errs := convert.Parse(keys, "value.converter")
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return c
}

// Golden cases: wire-format bytes as Confluent's serializers write them, and the JSON the
// mapping reads. Sources:
//   - Confluent's wire format: magic byte 0, 4-byte big-endian schema id, then the Avro binary,
//     the Protobuf message indexes and message, or the JSON (docs.confluent.io, Schema
//     Registry, "Wire format").
//   - avro-spec: the Avro specification's record example, a=27 b="foo" is 36 06 66 6f 6f.
//   - python: bytes written by Debian's python3-confluent-kafka 1.7 (AvroProducer's
//     MessageSerializer, ProtobufSerializer, JSONSerializer) for the schemas above.
//   - python-test: confluent-kafka-python tests/schema_registry/test_schema_id.py, whose
//     header 00 00 00 00 01 06 02 04 06 is schema id 1 with message indexes [1, 2, 3]
//     (zig-zag varints, count first); the id is 5 here.
//   - kafka-json: apache/kafka JsonConverterTest (booleanToConnect, structToConnect,
//     nullSchemaPrimitiveToConnect, decimalToConnect, numericDecimalToConnect,
//     decimalToConnectWithDefaultValue, decimalToConnectOptional, dateToConnect (10000 days),
//     timeToConnect (14400000 ms), timestampToConnect (4000000000 ms)); the JSON of Connect's
//     Decimal, Date, Time and Timestamp is kbridge's, as for Avro's logical types.
func TestGolden(t *testing.T) {
	t.Parallel()
	url := registryURL(t)
	registry := map[string]string{"schema.registry.url": url}
	cases := []struct {
		name, class string
		keys        map[string]string
		hex, text   string // the record's bytes, as hex or as text
		want        string
		wantErr     string
	}{
		{name: "avro-spec record", class: convert.AvroConverter, keys: registry,
			hex: "00000000033606666f6f", want: `{"a":27,"b":"foo"}`},
		{name: "python avro logical types and union branch", class: convert.AvroConverter, keys: registry,
			hex:  "0000000004066f2d310504fb2ef6a1abfef96202086769667401",
			want: `{"id":"o-1","quantity":-3,"price":-12.34,"placed":"2023-11-14T22:13:20.123Z","note":"gift","express":true}`},
		{name: "python avro null branch, small decimal, epoch", class: convert.AvroConverter, keys: registry,
			hex:  "0000000004066f2d320e0205000000",
			want: `{"id":"o-2","quantity":7,"price":0.05,"placed":"1970-01-01T00:00:00.000Z","note":null,"express":false}`},
		{name: "python protobuf first message (index 0)", class: convert.ProtobufConverter, keys: registry,
			hex:  "0000000001000a076f726465722d3019000000000000e03f2001",
			want: `{"id":"order-0","quantity":0,"price":0.5,"express":true}`},
		{name: "python-test protobuf message indexes [1,2,3]", class: convert.ProtobufConverter, keys: registry,
			hex: "0000000005060204060a01781005", want: `{"name":"x","n":"5"}`},
		{name: "python json schema", class: convert.JSONSchemaConverter, keys: registry,
			hex:  "00000000027b226964223a20226f726465722d30222c20227175616e74697479223a20302c20227072696365223a20322e357d",
			want: `{"id": "order-0", "quantity": 0, "price": 2.5}`},
		{name: "kafka-json boolean envelope", class: convert.JSONConverter,
			text: `{ "schema": { "type": "boolean" }, "payload": true }`, want: `true`},
		{name: "kafka-json struct envelope", class: convert.JSONConverter,
			text: `{ "schema": { "type": "struct", "fields": [{ "field": "field1", "type": "boolean" }, { "field": "field2", "type": "string" }] }, "payload": { "field1": true, "field2": "string" } }`,
			want: `{ "field1": true, "field2": "string" }`},
		{name: "kafka-json null schema", class: convert.JSONConverter,
			text: `{ "schema": null, "payload": { "field1": 1, "field2": 2} }`, want: `{ "field1": 1, "field2": 2}`},
		{name: "kafka-json decimal (base64)", class: convert.JSONConverter,
			text: `{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": "AJw=" }`,
			want: `1.56`},
		{name: "kafka-json decimal (numeric)", class: convert.JSONConverter,
			text: `{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": 1.56 }`,
			want: `1.56`},
		{name: "kafka-json decimal default", class: convert.JSONConverter,
			text: `{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "default": "AJw=", "parameters": { "scale": "2" } }, "payload": null }`,
			want: `1.56`},
		{name: "kafka-json optional decimal null", class: convert.JSONConverter,
			text: `{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "optional": true, "parameters": { "scale": "2" } }, "payload": null }`,
			want: `null`},
		{name: "kafka-json date", class: convert.JSONConverter,
			text: `{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1 }, "payload": 10000 }`,
			want: `"1997-05-19"`},
		{name: "kafka-json time", class: convert.JSONConverter,
			text: `{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1 }, "payload": 14400000 }`,
			want: `"04:00:00.000"`},
		{name: "kafka-json timestamp", class: convert.JSONConverter,
			text: `{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1 }, "payload": 4000000000 }`,
			want: `"1970-02-16T07:06:40.000Z"`},
		{name: "kafka-json struct with a decimal and a timestamp", class: convert.JSONConverter,
			text: `{"schema":{"type":"struct","fields":[{"field":"id","type":"int32"},{"field":"price","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},` +
				`{"field":"at","type":"int64","name":"org.apache.kafka.connect.data.Timestamp"},{"field":"tags","type":"array","items":{"type":"string"}}]},` +
				`"payload":{"id":1,"price":"AJw=","at":0,"tags":["a"]}}`,
			want: `{"id":1,"price":1.56,"at":"1970-01-01T00:00:00.000Z","tags":["a"]}`},
		{name: "json without envelope, schemas.enable=false", class: convert.JSONConverter,
			keys: map[string]string{"schemas.enable": "false"}, text: `{"a":1}`, want: `{"a":1}`},
		{name: "json without envelope, schemas.enable default true", class: convert.JSONConverter,
			text: `{"a":1}`, wantErr: `requires "schema" and "payload" fields`},
		{name: "string", class: convert.StringConverter, text: "héllo", want: "héllo"},
		{name: "bytes", class: convert.ByteArrayConverter, hex: "00ff10", want: "\x00\xff\x10"},

		{name: "wrong magic byte", class: convert.AvroConverter, keys: registry,
			text: `{"a":27}`, wantErr: "unknown magic byte 123"},
		{name: "short header", class: convert.AvroConverter, keys: registry, hex: "000000", wantErr: "shorter than the 5-byte"},
		{name: "unknown schema id", class: convert.AvroConverter, keys: registry,
			hex: "00000003e73606666f6f", wantErr: "schema id 999: the schema registry answered 404"},
		{name: "avro of a protobuf schema id", class: convert.AvroConverter, keys: registry,
			hex: "0000000001000a", wantErr: "not Avro"},
		{name: "truncated avro", class: convert.AvroConverter, keys: registry, hex: "00000000033606666f", wantErr: "truncated"},
		{name: "avro bytes left over", class: convert.AvroConverter, keys: registry, hex: "00000000033606666f6f00", wantErr: "1 bytes left over"},
		{name: "protobuf index past the messages", class: convert.ProtobufConverter, keys: registry,
			hex: "0000000001020a", wantErr: "no message 5"},
		{name: "json schema record not JSON", class: convert.JSONSchemaConverter, keys: registry,
			hex: "00000000027b", wantErr: "not JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := map[string]string{"value.converter": tc.class}
			for k, v := range tc.keys {
				keys["value.converter."+k] = v
			}
			data := []byte(tc.text)
			if tc.hex != "" {
				var err error
				if data, err = hex.DecodeString(tc.hex); err != nil {
					t.Fatal(err)
				}
			}
			got, err := converter(t, keys).Convert(context.Background(), data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q (got %s)", err, tc.wantErr, got)
				}
				var unavailable *convert.UnavailableError
				if errors.As(err, &unavailable) {
					t.Fatalf("a record's fault reported as the registry's: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Strings in every part of the escaping: plain runs longer than a word, quotes, backslashes and
// control characters at each position of a word, multi-byte UTF-8 and invalid bytes.
func TestAvroStrings(t *testing.T) {
	t.Parallel()
	url := registryURL(t)
	c := converter(t, map[string]string{"value.converter": convert.AvroConverter, "value.converter.schema.registry.url": url})
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"abcdefghijklmnopq", `"abcdefghijklmnopq"`},
		{`abcdefg"hij`, `"abcdefg\"hij"`},
		{"abcdefgh\\ijklmnop\x01", `"abcdefgh\\ijklmnop\u0001"`},
		{"\x1fabcdefghijklmno\n", `"\u001fabcdefghijklmno\n"`},
		{"žluťoučký kůň úpěl", `"žluťoučký kůň úpěl"`},
		{"abcdefg\xffabc", `"abcdefg\ufffdabc"`},
		{"ab\tcd\rxxxxxxxxx€", `"ab\tcd\rxxxxxxxxx€"`},
		{"~~~~~~~~!!!!!!!!########", `"~~~~~~~~!!!!!!!!########"`},
	} {
		// schema 3 is {a: long, b: string}: a=0, then b
		rec := append([]byte{0, 0, 0, 0, 3, 0}, zigzag(len(tc.in))...)
		got, err := c.Convert(context.Background(), append(rec, tc.in...))
		if want := `{"a":0,"b":` + tc.want + `}`; err != nil || string(got) != want {
			t.Errorf("%q: %s %v, want %s", tc.in, got, err, want)
		}
	}
}

func zigzag(n int) []byte {
	var out []byte
	u := uint64(n) << 1
	for u >= 0x80 {
		out = append(out, byte(u)|0x80)
		u >>= 7
	}
	return append(out, byte(u))
}
