package transform_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/transform"
)

// rec is a record of a case: key and value as JSON text (a key that is not JSON is its text),
// "" for none.
type rec struct {
	topic      string
	key, value string
	headers    []string // "name=value"
	ts         int64    // epoch milliseconds; 0 for none
}

func (r rec) record() *transform.Record {
	out := &transform.Record{Topic: r.topic}
	if r.key != "" {
		out.Key = []byte(r.key)
	}
	if r.value != "" {
		out.Value = []byte(r.value)
	}
	for _, h := range r.headers {
		k, v, _ := strings.Cut(h, "=")
		out.Headers = append(out.Headers, transform.Header{Key: k, Value: []byte(v)})
	}
	if r.ts != 0 {
		out.Timestamp = time.UnixMilli(r.ts)
	}
	return out
}

func show(r *transform.Record) string {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	return fmt.Sprintf("topic=%s key=%s value=%s headers=%v", r.Topic, r.Key, r.Value, hs)
}

// config builds the keys of one transform alias "t" of type typ, with its own keys in pairs.
func config(typ string, kv ...string) map[string]string {
	keys := map[string]string{"transforms": "t", "transforms.t.type": typ}
	for i := 0; i+1 < len(kv); i += 2 {
		keys["transforms.t."+kv[i]] = kv[i+1]
	}
	return keys
}

const pkg = "org.apache.kafka.connect.transforms."

// The cases are Apache Kafka's own (connect/transforms/src/test/java/org/apache/kafka/connect/
// transforms/*Test.java, the schemaless ones, and the examples of kafka.apache.org's Connect
// documentation), their Java maps written as JSON objects.
type tcase struct {
	name    string
	keys    map[string]string
	in      rec
	want    rec  // the record after the chain
	dropped bool // the chain drops the record
	err     string
}

var cases = []tcase{
	// InsertFieldTest.schemalessInsertConfiguredFields
	{"InsertField$Value", config(pkg+"InsertField$Value", "topic.field", "topic_field!", "partition.field", "partition_field",
		"timestamp.field", "timestamp_field?", "static.field", "instance_id", "static.value", "my-instance-id"),
		rec{topic: "test", value: `{"magic":42}`, ts: 123},
		rec{topic: "test", value: `{"magic":42,"topic_field":"test","partition_field":0,"timestamp_field":123,"instance_id":"my-instance-id"}`, ts: 123}, false, ""},
	// InsertFieldTest.insertConfiguredFieldsIntoTombstoneEventWithoutSchemaLeavesValueUnchanged
	{"InsertField$Value tombstone", config(pkg+"InsertField$Value", "topic.field", "topic_field!", "static.field", "instance_id", "static.value", "my-instance-id"),
		rec{topic: "test"}, rec{topic: "test"}, false, ""},
	// InsertFieldTest.insertKeyFieldsIntoTombstoneEvent
	{"InsertField$Key", config(pkg+"InsertField$Key", "topic.field", "topic_field!", "partition.field", "partition_field",
		"timestamp.field", "timestamp_field?", "static.field", "instance_id", "static.value", "my-instance-id"),
		rec{topic: "test", key: `{"magic":42}`},
		rec{topic: "test", key: `{"magic":42,"topic_field":"test","partition_field":0,"instance_id":"my-instance-id"}`}, false, ""},
	// InsertFieldTest.insertIntoNullKeyLeavesRecordUnchanged
	{"InsertField$Key null key", config(pkg+"InsertField$Key", "topic.field", "topic_field!"),
		rec{topic: "test", value: `{"magic":42}`}, rec{topic: "test", value: `{"magic":42}`}, false, ""},
	// InsertFieldTest.topLevelStructRequired
	{"InsertField$Value not an object", config(pkg+"InsertField$Value", "topic.field", "topic_field"),
		rec{topic: "", value: `42`}, rec{}, false, "only objects are supported in absence of schema for [field insertion], found: number"},
	// ReplaceFieldTest.schemaless
	{"ReplaceField$Value", config(pkg+"ReplaceField$Value", "exclude", "dont", "renames", "abc:xyz,foo:bar"),
		rec{topic: "test", value: `{"dont":"whatever","abc":42,"foo":true,"etc":"etc"}`},
		rec{topic: "test", value: `{"xyz":42,"bar":true,"etc":"etc"}`}, false, ""},
	// ReplaceFieldTest.tombstoneSchemaless
	{"ReplaceField$Value tombstone", config(pkg+"ReplaceField$Value", "include", "abc,foo", "renames", "abc:xyz,foo:bar"),
		rec{topic: "test"}, rec{topic: "test"}, false, ""},
	// ReplaceFieldTest.withSchema, schemaless; and Kafka's older name of include
	{"ReplaceField$Value include", config(pkg+"ReplaceField$Value", "include", "abc,foo", "renames", "abc:xyz,foo:bar"),
		rec{topic: "test", value: `{"dont":"whatever","abc":42,"foo":true,"etc":"etc"}`},
		rec{topic: "test", value: `{"xyz":42,"bar":true}`}, false, ""},
	{"ReplaceField$Value whitelist", config(pkg+"ReplaceField$Value", "whitelist", "abc,foo", "renames", "abc:xyz,foo:bar"),
		rec{topic: "test", value: `{"dont":"whatever","abc":42,"foo":true,"etc":"etc"}`},
		rec{topic: "test", value: `{"xyz":42,"bar":true}`}, false, ""},
	{"ReplaceField$Value blacklist", config(pkg+"ReplaceField$Value", "blacklist", "dont", "renames", "abc:xyz,foo:bar"),
		rec{topic: "test", value: `{"dont":"whatever","abc":42,"foo":true,"etc":"etc"}`},
		rec{topic: "test", value: `{"xyz":42,"bar":true,"etc":"etc"}`}, false, ""},
	// MaskFieldTest.testSchemaless (the JSON types of its VALUES)
	{"MaskField$Value", config(pkg+"MaskField$Value", "fields", "bool,int,long,double,string,list,map"),
		rec{value: `{"magic":42,"bool":true,"int":42,"long":42,"double":42.0,"string":"55.121.20.20","list":[42],"map":{"key":"value"}}`},
		rec{value: `{"magic":42,"bool":false,"int":0,"long":0,"double":0.0,"string":"","list":[],"map":{}}`}, false, ""},
	// MaskFieldTest.testSchemalessWithReplacement
	{"MaskField$Value replacement", config(pkg+"MaskField$Value", "fields", "int,double,string", "replacement", "123"),
		rec{value: `{"magic":42,"int":42,"double":42.0,"string":"55.121.20.20"}`},
		rec{value: `{"magic":42,"int":123,"double":123.0,"string":"123"}`}, false, ""},
	// MaskFieldTest.testSchemalessUnsupportedReplacementType
	{"MaskField$Value bool replacement", config(pkg+"MaskField$Value", "fields", "bool", "replacement", "false"),
		rec{value: `{"bool":true}`}, rec{}, false, "Cannot mask value of type boolean"},
	// MaskFieldTest.testReplacementTypeMismatch
	{"MaskField$Value mismatch", config(pkg+"MaskField$Value", "fields", "int", "replacement", "foo"),
		rec{value: `{"int":42}`}, rec{}, false, "Invalid value foo for configuration replacement"},
	// ValueToKeyTest.schemaless
	{"ValueToKey", config(pkg+"ValueToKey", "fields", "a,b"),
		rec{value: `{"a":1,"b":2,"c":3}`}, rec{key: `{"a":1,"b":2}`, value: `{"a":1,"b":2,"c":3}`}, false, ""},
	// ExtractFieldTest.schemaless, nonExistentFieldSchemalessShouldReturnNull, nullSchemaless
	{"ExtractField$Key", config(pkg+"ExtractField$Key", "field", "magic"),
		rec{topic: "test", key: `{"magic":42}`}, rec{topic: "test", key: `42`}, false, ""},
	{"ExtractField$Key missing", config(pkg+"ExtractField$Key", "field", "nonexistent"),
		rec{topic: "test", key: `{"magic":42}`}, rec{topic: "test"}, false, ""},
	{"ExtractField$Key null", config(pkg+"ExtractField$Key", "field", "magic"),
		rec{topic: "test"}, rec{topic: "test"}, false, ""},
	// ExtractFieldTest.schemalessAndNestedPath, nonExistentNestedFieldSchemalessShouldReturnNull
	{"ExtractField$Key V2", config(pkg+"ExtractField$Key", "field", "magic.foo", "field.syntax.version", "V2"),
		rec{topic: "test", key: `{"magic":{"foo":42}}`}, rec{topic: "test", key: `42`}, false, ""},
	{"ExtractField$Key V2 missing", config(pkg+"ExtractField$Key", "field", "magic.nonexistent", "field.syntax.version", "V2"),
		rec{topic: "test", key: `{"magic":{"foo":42}}`}, rec{topic: "test"}, false, ""},
	// FlattenTest.testNestedMapWithDelimiter (the JSON types of its map)
	{"Flatten$Value", config(pkg+"Flatten$Value", "delimiter", "#"),
		rec{topic: "topic", value: `{"A":{"B":{"int8":8,"int16":16,"int32":32,"int64":64,"float32":32.0,"float64":64.0,"boolean":true,"string":"stringy"}}}`},
		rec{topic: "topic", value: `{"A#B#int8":8,"A#B#int16":16,"A#B#int32":32,"A#B#int64":64,"A#B#float32":32.0,"A#B#float64":64.0,"A#B#boolean":true,"A#B#string":"stringy"}`}, false, ""},
	// FlattenTest.testOptionalFieldMap, testKey, topLevelMapRequired, testUnsupportedTypeInMap
	{"Flatten$Value null field", config(pkg + "Flatten$Value"),
		rec{topic: "topic", value: `{"B":{"opt_int32":null}}`}, rec{topic: "topic", value: `{"B.opt_int32":null}`}, false, ""},
	{"Flatten$Key", config(pkg + "Flatten$Key"),
		rec{topic: "topic", key: `{"A":{"B":12}}`}, rec{topic: "topic", key: `{"A.B":12}`}, false, ""},
	{"Flatten$Value not an object", config(pkg + "Flatten$Value"), rec{topic: "topic", value: `42`}, rec{}, false, "found: number"},
	{"Flatten$Value array", config(pkg + "Flatten$Value"), rec{topic: "topic", value: `{"foo":["bar","baz"]}`}, rec{}, false,
		"Flatten transformation does not support ARRAY for record without schemas (for field foo)."},
	// CastTest.castWholeRecordValueSchemaless*, castWholeRecordKeySchemaless, castFieldsSchemaless
	{"Cast$Value int8", config(pkg+"Cast$Value", "spec", "int8"), rec{value: `42`}, rec{value: `42`}, false, ""},
	{"Cast$Value float32", config(pkg+"Cast$Value", "spec", "float32"), rec{value: `42`}, rec{value: `42.0`}, false, ""},
	{"Cast$Value boolean true", config(pkg+"Cast$Value", "spec", "boolean"), rec{value: `42`}, rec{value: `true`}, false, ""},
	{"Cast$Value boolean false", config(pkg+"Cast$Value", "spec", "boolean"), rec{value: `0`}, rec{value: `false`}, false, ""},
	{"Cast$Value string", config(pkg+"Cast$Value", "spec", "string"), rec{value: `42`}, rec{value: `"42"`}, false, ""},
	{"Cast$Key int8", config(pkg+"Cast$Key", "spec", "int8"), rec{key: `42`}, rec{key: `42`}, false, ""},
	{"Cast$Value fields", config(pkg+"Cast$Value", "spec", "int8:int8,int16:int16,int32:int32,int64:int64,float32:float32,float64:float64,boolean:boolean,string:int32"),
		rec{value: `{"int8":8,"int16":16,"int32":32,"int64":64,"float32":32.0,"float64":64.0,"boolean":true,"string":"42"}`},
		rec{value: `{"int8":8,"int16":16,"int32":32,"int64":64,"float32":32.0,"float64":64.0,"boolean":true,"string":42}`}, false, ""},
	// TimestampConverterTest.testSchemalessStringToTimestamp, testSchemalessUnixToTimestamp,
	// testSchemalessTimestampToString (Timestamp: JsonConverter's epoch milliseconds)
	{"TimestampConverter$Value string to Timestamp", config(pkg+"TimestampConverter$Value", "target.type", "Timestamp", "format", "yyyy MM dd HH mm ss SSS z"),
		rec{value: `"1970 01 02 00 00 01 234 UTC"`}, rec{value: `86401234`}, false, ""},
	{"TimestampConverter$Value unix to string", config(pkg+"TimestampConverter$Value", "target.type", "string", "format", "yyyy MM dd HH mm ss SSS z"),
		rec{value: `86401234`}, rec{value: `"1970 01 02 00 00 01 234 UTC"`}, false, ""},
	{"TimestampConverter$Value unix to Timestamp", config(pkg+"TimestampConverter$Value", "target.type", "Timestamp"),
		rec{value: `86401234`}, rec{value: `86401234`}, false, ""},
	// TimestampConverterTest.testSchemalessTimestampToDate, ToTime, ToUnix: DATE (day 1), TIME (1234 ms)
	{"TimestampConverter$Value to Date", config(pkg+"TimestampConverter$Value", "target.type", "Date"),
		rec{value: `86401234`}, rec{value: `1`}, false, ""},
	{"TimestampConverter$Value to Time", config(pkg+"TimestampConverter$Value", "target.type", "Time"),
		rec{value: `86401234`}, rec{value: `1234`}, false, ""},
	// TimestampConverterTest unix.precision cases: DATE_PLUS_TIME_UNIX_MICROS to Timestamp and back
	{"TimestampConverter$Value micros to Timestamp", config(pkg+"TimestampConverter$Value", "target.type", "Timestamp", "unix.precision", "microseconds", "field", "ts"),
		rec{value: `{"ts":86401234123,"x":1}`}, rec{value: `{"ts":86401234,"x":1}`}, false, ""},
	{"TimestampConverter$Value string to unix seconds", config(pkg+"TimestampConverter$Value", "target.type", "unix", "unix.precision", "seconds", "format", "yyyy MM dd HH mm ss SSS z"),
		rec{value: `"1970 01 02 00 00 01 234 UTC"`}, rec{value: `86401`}, false, ""},
	// TimestampConverterTest.testSchemalessNullValueConversion / NullFieldConversion
	{"TimestampConverter$Value null", config(pkg+"TimestampConverter$Value", "target.type", "string", "format", "yyyy MM dd HH mm ss SSS z", "field", "ts"),
		rec{}, rec{}, false, ""},
	// HoistFieldTest.schemaless; connect.html's example: HoistField$Value then InsertField$Value
	{"HoistField$Key", config(pkg+"HoistField$Key", "field", "magic"), rec{topic: "test", key: `42`}, rec{topic: "test", key: `{"magic":42}`}, false, ""},
	{"HoistField$Value, InsertField$Value (connect.html)", map[string]string{"transforms": "MakeMap, InsertSource",
		"transforms.MakeMap.type": pkg + "HoistField$Value", "transforms.MakeMap.field": "line",
		"transforms.InsertSource.type": pkg + "InsertField$Value", "transforms.InsertSource.static.field": "data_source",
		"transforms.InsertSource.static.value": "test-file-source"},
		rec{topic: "connect-test", value: `"foo"`}, rec{topic: "connect-test", value: `{"line":"foo","data_source":"test-file-source"}`}, false, ""},
	// RegexRouterTest
	{"RegexRouter static", config(pkg+"RegexRouter", "regex", "foo", "replacement", "bar"), rec{topic: "foo"}, rec{topic: "bar"}, false, ""},
	{"RegexRouter no match", config(pkg+"RegexRouter", "regex", "foo", "replacement", "bar"), rec{topic: "orig"}, rec{topic: "orig"}, false, ""},
	{"RegexRouter identity", config(pkg+"RegexRouter", "regex", "(.*)", "replacement", "$1"), rec{topic: "orig"}, rec{topic: "orig"}, false, ""},
	{"RegexRouter prefix", config(pkg+"RegexRouter", "regex", "(.*)", "replacement", "prefix-$1"), rec{topic: "orig"}, rec{topic: "prefix-orig"}, false, ""},
	{"RegexRouter suffix", config(pkg+"RegexRouter", "regex", "(.*)", "replacement", "$1-suffix"), rec{topic: "orig"}, rec{topic: "orig-suffix"}, false, ""},
	{"RegexRouter slice", config(pkg+"RegexRouter", "regex", `(.*)-(\d\d\d\d\d\d\d\d)`, "replacement", "$1"), rec{topic: "index-20160117"}, rec{topic: "index"}, false, ""},
	// TimestampRouterTest.defaultConfiguration
	{"TimestampRouter", config(pkg + "TimestampRouter"), rec{topic: "test", ts: 1483425001864}, rec{topic: "test-20170103", ts: 1483425001864}, false, ""},
	// InsertHeaderTest: header "inserted" with the literal "inserted-value" added after the others
	{"InsertHeader", config(pkg+"InsertHeader", "header", "inserted", "value.literal", "inserted-value"),
		rec{topic: "topic", headers: []string{"existing=existing-value"}},
		rec{topic: "topic", headers: []string{"existing=existing-value", "inserted=inserted-value"}}, false, ""},
	// DropHeadersTest: dropping "dropped" and "other-dropped" keeps the rest in order
	{"DropHeaders", config(pkg+"DropHeaders", "headers", "dropped, other-dropped"),
		rec{topic: "topic", headers: []string{"dropped=x", "existing=existing-value", "other-dropped=y", "dropped=z"}},
		rec{topic: "topic", headers: []string{"existing=existing-value"}}, false, ""},
	// HeaderFromTest: basic copy, basic move, two headers from same field, two fields to same header
	{"HeaderFrom$Value copy", config(pkg+"HeaderFrom$Value", "fields", "field1", "headers", "inserted1", "operation", "copy"),
		rec{value: `{"field1":"field1-value","field2":"field2-value"}`, headers: []string{"header1=existing-value"}},
		rec{value: `{"field1":"field1-value","field2":"field2-value"}`, headers: []string{"header1=existing-value", "inserted1=field1-value"}}, false, ""},
	{"HeaderFrom$Value move", config(pkg+"HeaderFrom$Value", "fields", "field1", "headers", "inserted1", "operation", "move"),
		rec{value: `{"field1":"field1-value","field2":"field2-value"}`, headers: []string{"header1=existing-value"}},
		rec{value: `{"field2":"field2-value"}`, headers: []string{"header1=existing-value", "inserted1=field1-value"}}, false, ""},
	{"HeaderFrom$Key two headers from one field", config(pkg+"HeaderFrom$Key", "fields", "field1,field1", "headers", "inserted1,inserted2", "operation", "move"),
		rec{key: `{"field1":"field1-value","field2":"field2-value"}`, headers: []string{"header1=existing-value"}},
		rec{key: `{"field2":"field2-value"}`, headers: []string{"header1=existing-value", "inserted1=field1-value", "inserted2=field1-value"}}, false, ""},
	{"HeaderFrom$Value two fields to one header", config(pkg+"HeaderFrom$Value", "fields", "field1,field2", "headers", "inserted1,inserted1", "operation", "move"),
		rec{value: `{"field1":"field1-value","field2":"field2-value"}`, headers: []string{"header1=existing-value"}},
		rec{value: `{}`, headers: []string{"header1=existing-value", "inserted1=field1-value", "inserted1=field2-value"}}, false, ""},
	// Filter without a predicate drops everything (connect.html)
	{"Filter", config(pkg + "Filter"), rec{topic: "foo", value: `1`}, rec{}, true, ""},
}

// connect.html's predicate example: records on topic foo are dropped; ExtractField$Key takes
// other_field of every record not on topic bar.
var docExample = map[string]string{
	"transforms":                   "Filter,Extract",
	"transforms.Filter.type":       pkg + "Filter",
	"transforms.Filter.predicate":  "IsFoo",
	"transforms.Extract.type":      pkg + "ExtractField$Key",
	"transforms.Extract.field":     "other_field",
	"transforms.Extract.predicate": "IsBar",
	"transforms.Extract.negate":    "true",
	"predicates":                   "IsFoo,IsBar",
	"predicates.IsFoo.type":        pkg + "predicates.TopicNameMatches",
	"predicates.IsFoo.pattern":     "foo",
	"predicates.IsBar.type":        pkg + "predicates.TopicNameMatches",
	"predicates.IsBar.pattern":     "bar",
}

func init() {
	cases = append(cases,
		tcase{"predicates: foo dropped", docExample, rec{topic: "foo", key: `{"other_field":1}`}, rec{}, true, ""},
		tcase{"predicates: bar untouched", docExample, rec{topic: "bar", key: `{"other_field":1}`}, rec{topic: "bar", key: `{"other_field":1}`}, false, ""},
		tcase{"predicates: baz extracted", docExample, rec{topic: "baz", key: `{"other_field":1}`}, rec{topic: "baz", key: `1`}, false, ""},
	)
}

func TestTransforms(t *testing.T) {
	t.Parallel()
	for _, tc := range cases {
		chain, _, errs := transform.Parse(tc.keys)
		if len(errs) > 0 || chain == nil {
			t.Errorf("%s: config errors %v", tc.name, errs)
			continue
		}
		r := tc.in.record()
		keep, err := chain.Apply(r)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case keep == tc.dropped:
			t.Errorf("%s: kept %v, want %v", tc.name, keep, !tc.dropped)
		case keep && show(r) != show(tc.want.record()):
			t.Errorf("%s:\n got %s\nwant %s", tc.name, show(r), show(tc.want.record()))
		}
	}
}
