package mapping

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// The string expressions must render exactly what Jsonnet renders: same cells, same errors.
func TestStringExpressionsMatchJsonnet(t *testing.T) {
	t.Parallel()
	templates := []string{
		`Body("user.name") + "-" + Header("X-Id", "none")`,
		`'a\'b' + "\u00e9\n\t\"" + (Ip() + Now()) + Now('%Y|%f')`,
		`'"quoted"' + "\"" + '\\'`,
		`Body("s") + BodyStr()`,
		`"" + Body("n")`, // a number joined to a string, written as Jsonnet writes it
		`Body("missing", "dflt") + Header("X-Ctl")`,
		`Header('x-id')`,
		`HeaderStr() + Topic() + Key() + Timestamp() + Timestamp('%H')`,
		`Body("bad") + "!"`,
		`Body("obj") + "x"`,
		`Now('%Q')`,
	}
	events := []Event{
		{Body: []byte(`{"user":{"name":"Ann \"Q\""},"s":"\u0001\u007f\u0085 z","n":12.5,"bad":"a\udc00b","obj":{"b":1}}`),
			Header: http.Header{"Content-Type": {"application/json"}, "X-Id": {"r\x01-1"}, "X-Ctl": {"\x7f\xff"}}},
		{Body: []byte(`{"user":{}}`), Header: http.Header{"Content-Type": {"application/json"}}},
		{Body: []byte("not json \xff"), Header: http.Header{"Content-Type": {"text/plain"}}},
		{Body: []byte(`{"user":{"name":"K"},"s":"s","missing":null}`), Kafka: true, Topic: "t\u2028", Key: []byte("k\xfe"),
			Timestamp: time.Unix(1700000000, 5e6)},
	}
	for i := range events {
		events[i].ClientIP = netip.MustParseAddr("10.0.0.1")
		events[i].ReceivedAt = time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	}
	for _, tpl := range templates {
		for _, raw := range []bool{false, true} {
			cols := []Column{{Type: KindTemplate, Name: "t", RawString: raw, Template: &Template{Language: "jsonnet", Content: tpl}}}
			fast, err := Compile(cols, Config{})
			if err != nil {
				t.Fatalf("%s: %v", tpl, err)
			}
			if fast.exprs == nil {
				t.Fatalf("%s did not compile to a string expression", tpl)
			}
			slow, _ := Compile(cols, Config{})
			slow.exprs = nil
			var fastRows, slowRows Rows
			fast.NewRenderer().RenderBatch(events, &fastRows)
			slow.NewRenderer().RenderBatch(events, &slowRows)
			for i := range events {
				got := fmt.Sprintf("%q %v", fastRows.Row(i), fastRows.Err(i))
				want := fmt.Sprintf("%q %v", slowRows.Row(i), slowRows.Err(i))
				if got != want {
					t.Errorf("%s (rawString %v), event %d:\n  Go:      %s\n  Jsonnet: %s", tpl, raw, i, got, want)
				}
			}
		}
	}
}

func TestStringExpressionParsing(t *testing.T) {
	t.Parallel()
	for tpl, want := range map[string]bool{
		`Body("a") + "-"`:              true,
		`("a" + ('b' + Ip()))`:         true,
		`Body("a", "d")`:               true,
		`Body("a", 1)`:                 false, // a number default
		`Body(path="a")`:               false,
		`Body()`:                       false,
		`Partition() + ""`:             false,
		`local x = "a"; x`:             false,
		`"a" + std.toString(Offset())`: false,
		`@"verbatim" + "x"`:            false,
		`Body("a") + `:                 false,
		`Body("a") "b"`:                false,
		`"\ud83d\ude00"`:               false, // surrogates are left to Jsonnet
		`Header('X', 'y') + Now('%Y')`: true,
	} {
		if _, ok := compileStringExpr(tpl); ok != want {
			t.Errorf("compileStringExpr(%s) = %v, want %v", tpl, ok, want)
		}
	}
}
