package transform_test

import (
	"strings"
	"testing"

	"github.com/kbridge/kbridge/bridge/transform"
)

// HasHeaderKeyTest and RecordIsTombstone: with Filter, the classic uses: drop records that
// carry a header, drop tombstones, and, negated, keep only tombstones.
func TestPredicates(t *testing.T) {
	t.Parallel()
	filterIf := func(pred string, negate bool, kv ...string) map[string]string {
		keys := map[string]string{"transforms": "drop", "transforms.drop.type": pkg + "Filter",
			"transforms.drop.predicate": "p", "predicates": "p", "predicates.p.type": pkg + "predicates." + pred}
		if negate {
			keys["transforms.drop.negate"] = "true"
		}
		for i := 0; i+1 < len(kv); i += 2 {
			keys["predicates.p."+kv[i]] = kv[i+1]
		}
		return keys
	}
	for _, tc := range []struct {
		name string
		keys map[string]string
		in   rec
		kept bool
	}{
		{"HasHeaderKey match", filterIf("HasHeaderKey", false, "name", "headerKey"), rec{headers: []string{"other=1", "headerKey=2"}, value: `1`}, false},
		{"HasHeaderKey no match", filterIf("HasHeaderKey", false, "name", "headerKey"), rec{headers: []string{"other=1"}, value: `1`}, true},
		{"HasHeaderKey no headers", filterIf("HasHeaderKey", false, "name", "headerKey"), rec{value: `1`}, true},
		{"TopicNameMatches whole name", filterIf("TopicNameMatches", false, "pattern", "my-prefix-.*"), rec{topic: "my-prefix-1", value: `1`}, false},
		{"TopicNameMatches partial", filterIf("TopicNameMatches", false, "pattern", "prefix"), rec{topic: "my-prefix-1", value: `1`}, true},
		{"RecordIsTombstone", filterIf("RecordIsTombstone", false), rec{topic: "t"}, false},
		{"RecordIsTombstone value", filterIf("RecordIsTombstone", false), rec{topic: "t", value: `{}`}, true},
		{"RecordIsTombstone negated", filterIf("RecordIsTombstone", true), rec{topic: "t", value: `{}`}, false},
		{"RecordIsTombstone negated tombstone", filterIf("RecordIsTombstone", true), rec{topic: "t"}, true},
	} {
		chain, _, errs := transform.Parse(tc.keys)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", tc.name, errs)
		}
		if kept, err := chain.Apply(tc.in.record()); err != nil || kept != tc.kept {
			t.Errorf("%s: kept %v (%v), want %v", tc.name, kept, err, tc.kept)
		}
	}
}

// Every bad key is an error naming it: nothing that changes data is ignored.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		keys map[string]string
		want string
	}{
		{config("com.example.Upper"), "transforms.t.type: unknown class com.example.Upper; kbridge runs org.apache.kafka.connect.transforms.InsertField$Key"},
		{config(pkg+"InsertField$Value", "topic.feild", "t"), `transforms.t.topic.feild: unknown key; did you mean "topic.field"?`},
		{config(pkg + "MaskField$Value"), "transforms.t.fields: missing"},
		{config(pkg+"MaskField$Value", "fields", "a", "replacement", ""), "transforms.t.replacement: must be a non-empty string"},
		{config(pkg+"ReplaceField$Value", "renames", "abc"), "transforms.t.renames: invalid rename mapping: abc"},
		{config(pkg+"Cast$Value", "spec", "a:int128"), `transforms.t.spec: invalid cast type "int128"`},
		{config(pkg + "TimestampConverter$Value"), "transforms.t.target.type: missing"},
		{config(pkg+"TimestampConverter$Value", "target.type", "invalid"), "transforms.t.target.type: must be one of"},
		{config(pkg+"TimestampConverter$Value", "target.type", "string"), "transforms.t.format: missing"},
		{config(pkg+"TimestampConverter$Value", "target.type", "string", "format", "bad-format"), "transforms.t.format: pattern letter 'b'"},
		{config(pkg+"TimestampConverter$Value", "target.type", "unix", "unix.precision", "invalid"), "transforms.t.unix.precision: must be one of"},
		{config(pkg+"HeaderFrom$Value", "fields", "foo,bar", "headers", "foo", "operation", "copy"), "transforms.t.fields: 'fields' config must have the same number of elements as 'headers' config."},
		{config(pkg+"RegexRouter", "regex", "(", "replacement", "x"), "transforms.t.regex: invalid regex"},
		{config(pkg+"Filter", "predicate", "nope"), `transforms.t.predicate: no predicate "nope" in predicates`},
		{config(pkg+"Filter", "negate", "true"), "transforms.t.negate: needs a predicate"},
		{map[string]string{"transforms": "t"}, "transforms.t.type: missing"},
		{map[string]string{"predicates": "p", "predicates.p.type": "Nope"}, "predicates.p.type: unknown class Nope"},
		{map[string]string{"predicates": "p", "predicates.p.type": pkg + "predicates.HasHeaderKey"}, "predicates.p.name: missing"},
		{map[string]string{"transforms.x.type": pkg + "Filter"}, `transforms.x.type: transforms has no alias "x"`},
	} {
		chain, _, errs := transform.Parse(tc.keys)
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		if chain != nil || !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
			t.Errorf("%v: errors %q, want %q", tc.keys, msgs, tc.want)
		}
	}
	if chain, used, errs := transform.Parse(map[string]string{"topics": "a"}); chain != nil || len(errs) > 0 || len(used) != 2 {
		t.Errorf("no transforms: chain %v, used %v, errors %v", chain, used, errs)
	}
	// Simple names are accepted, as Connect's plugin aliases.
	if _, _, errs := transform.Parse(config("InsertField$Value", "topic.field", "t")); len(errs) > 0 {
		t.Errorf("simple name: %v", errs)
	}
}

// A value a transform changes is written back compact, with its members in their order and
// its strings and numbers as they were; a value that is not JSON is an error.
func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	chain, _, errs := transform.Parse(config(pkg+"InsertField$Value", "topic.field", "topic"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	in := "{ \"z\" : [1, {\"b\":\"x\\\"y\\n\"}, []], \"\u00e9\":\"\\u00e9<&>\", \"n\":-1.5e3 ,\n\t\"t\":true,\"f\":false,\"a\":null, \"o\":{}}"
	want := `{"z":[1,{"b":"x\"y\n"},[]],"é":"é<&>","n":-1.5e3,"t":true,"f":false,"a":null,"o":{},"topic":"t"}`
	r := &transform.Record{Topic: "t", Value: []byte(in)}
	if keep, err := chain.Apply(r); !keep || err != nil || string(r.Value) != want {
		t.Errorf("got %s (%v, %v), want %s", r.Value, keep, err, want)
	}
	r = &transform.Record{Topic: "t", Value: []byte(`{"a":`)}
	if _, err := chain.Apply(r); err == nil || !strings.Contains(err.Error(), "the value is not JSON") {
		t.Errorf("invalid JSON: %v", err)
	}
}
