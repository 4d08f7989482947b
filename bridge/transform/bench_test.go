package transform_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/bridge/transform"
)

// BenchmarkChain runs a typical chain (a router, a header, a field inserted, one masked, one
// renamed) on ~1 KB JSON values.
func BenchmarkChain(b *testing.B) {
	keys := map[string]string{
		"transforms":                      "route,header,insert,mask,rename",
		"transforms.route.type":           pkg + "RegexRouter",
		"transforms.route.regex":          "(.*)-v1",
		"transforms.route.replacement":    "$1",
		"transforms.header.type":          pkg + "InsertHeader",
		"transforms.header.header":        "origin",
		"transforms.header.value.literal": "kafka",
		"transforms.insert.type":          pkg + "InsertField$Value",
		"transforms.insert.topic.field":   "topic",
		"transforms.mask.type":            pkg + "MaskField$Value",
		"transforms.mask.fields":          "card",
		"transforms.rename.type":          pkg + "ReplaceField$Value",
		"transforms.rename.renames":       "amount:total",
	}
	chain, _, errs := transform.Parse(keys)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	var fields []string
	for i := range 30 {
		fields = append(fields, fmt.Sprintf(`"field%02d":"value of field %02d"`, i, i))
	}
	value := []byte(`{"id":1,"card":"4111111111111111","amount":12.5,` + strings.Join(fields, ",") + `}`)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		r := transform.Record{Topic: "orders-v1", Value: value}
		if keep, err := chain.Apply(&r); !keep || err != nil {
			b.Fatal(keep, err)
		}
	}
}
