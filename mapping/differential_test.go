package mapping_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-jsonnet"

	"github.com/kbridge/kbridge/mapping"
)

// The shortcuts must give exactly what Keboola gives, and Keboola evaluates every template in
// Jsonnet and compacts its output with json.Compact (keboola/keboola-as-code,
// internal/pkg/encoding/jsonnet/vm.go, VM.Evaluate; a rawString result is then decoded,
// internal/pkg/service/stream/mapping/table/column/renderer.go). A template that is a path
// only, or joins strings, runs in Go; FuzzShortcuts checks it against a real go-jsonnet
// evaluation of the same template, where the body is decoded by Jsonnet's own std.parseJson
// (encoding/json: float64 numbers, the last of duplicate keys) and looked up in Jsonnet.
// `make test` runs the seeds below; `make fuzz` runs new seeds.

// shortcutCases pairs a template with the same template over the reference's Body (a path as
// a list of steps).
var shortcutCases = []struct {
	template, reference string
	rawString           bool
}{
	{`Body('a')`, `Body(['a'])`, false},
	{`Body("o.b")`, `Body(['o', 'b'])`, false},
	{`Body('arr[1]', 'none')`, `Body(['arr', 1], 'none')`, false},
	{`Body('s')`, `Body(['s'])`, true},
	{`Body('o')`, `Body(['o'])`, true},
	{`Body('a') + '-' + Body('s', 'none')`, `Body(['a']) + '-' + Body(['s'], 'none')`, true},
	{`'<' + Body('s', '') + "\n" + Header('X-A', '') + (Body('o.b', '?'))`,
		`'<' + Body(['s'], '') + "\n" + std.extVar('xa') + (Body(['o', 'b'], '?'))`, false},
	{`Body('a') + Body('x', '0') + Body('o.c', '')`, `Body(['a']) + Body(['x'], '0') + Body(['o', 'c'], '')`, false},
	{`Body('a', 'A') + (Body('x', 'X') + Body('arr[0]', '-'))`, `Body(['a'], 'A') + (Body(['x'], 'X') + Body(['arr', 0], '-'))`, true},
	{`Body('o.b', 'none')`, `Body(['o', 'b'], 'none')`, true},
}

// referenceLib decodes the body with std.parseJson and looks paths up in Jsonnet.
const referenceLib = `
local body = std.parseJson(std.extVar('body'));
local notFound = {notFound: true};
local walk(v, steps, i) =
  if i == std.length(steps) then v
  else if std.isNumber(steps[i]) then
    (if std.isArray(v) && steps[i] < std.length(v) then walk(v[steps[i]], steps, i + 1) else notFound)
  else if std.isObject(v) && std.objectHas(v, steps[i]) then walk(v[steps[i]], steps, i + 1)
  else notFound;
local Body(steps, default=notFound) =
  if !std.isObject(body) then error 'the body is not an object'
  else local v = walk(body, steps, 0);
    if v == notFound then (if default == notFound then error 'not found' else default) else v;
`

func FuzzShortcuts(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed)
	}
	type compiled struct {
		r         *mapping.Renderer
		reference string
		rawString bool
	}
	var cases []compiled
	for _, c := range shortcutCases {
		content, _ := json.Marshal(c.template)
		m := compileTB(f, fmt.Sprintf(`[{"type":"template","name":"t","rawString":%t,
			"template":{"language":"jsonnet","content":%s}}]`, c.rawString, content))
		if !m.RunsInGo() {
			f.Fatalf("%s does not run in Go: it is no shortcut", c.template)
		}
		cases = append(cases, compiled{m.NewRenderer(), referenceLib + c.reference, c.rawString})
	}
	vm := jsonnet.MakeVM()
	f.Fuzz(func(t *testing.T, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		events := make([]mapping.Event, 24)
		for i := range events {
			events[i] = mapping.Event{Body: genBody(rng), Header: http.Header{
				"Content-Type": {"application/json"}, "X-A": {string(genString(rng, true))}}}
		}
		var rows mapping.Rows
		for _, c := range cases {
			c.r.RenderBatch(events, &rows)
			for i := range events {
				ev := &events[i]
				vm.ExtVar("body", string(ev.Body))
				vm.ExtVar("xa", ev.Header.Get("X-A"))
				want, werr := referenceCell(vm, c.reference, c.rawString)
				got, gerr := c.r.Values(ev)
				if (werr != nil) != (gerr != nil) || werr == nil && got[0] != want {
					t.Fatalf("template %s, body %s:\n got: %q (%v)\nwant: %q (%v)", c.reference[len(referenceLib):], ev.Body, got, gerr, want, werr)
				}
				if (rows.Err(i) != nil) != (werr != nil) || werr == nil && csvCell(t, rows.Row(i)) != want {
					t.Fatalf("template %s, body %s, in a batch:\n got: %q (%v)\nwant: %q", c.reference[len(referenceLib):], ev.Body, rows.Row(i), rows.Err(i), want)
				}
			}
		}
	})
}

// referenceCell evaluates program and turns its output into a cell as Keboola does.
func referenceCell(vm *jsonnet.VM, program string, rawString bool) (string, error) {
	out, err := vm.EvaluateAnonymousSnippet("reference", program)
	if err != nil {
		return "", err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(out)); err != nil {
		return "", err
	}
	res := compact.String()
	if rawString && res[0] == '"' {
		var s string
		if json.Unmarshal([]byte(res), &s) == nil {
			return s, nil
		}
	}
	return res, nil
}

// csvCell decodes a row of one always-quoted field (encoding/csv would turn "\r\n" into "\n").
func csvCell(t *testing.T, row []byte) string {
	t.Helper()
	s := string(row)
	if len(s) < 3 || s[0] != '"' || !strings.HasSuffix(s, "\"\n") {
		t.Fatalf("row %q is not one quoted CSV field", row)
	}
	return strings.ReplaceAll(s[1:len(s)-2], `""`, `"`)
}

func compileTB(tb testing.TB, columns string) *mapping.Mapping {
	tb.Helper()
	cols, err := mapping.DecodeColumns([]byte(columns))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := mapping.Compile(cols, mapping.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// genBody writes a JSON body: mostly an object with the keys the templates read (a, s, o, arr),
// duplicated now and then; sometimes an array or a scalar.
func genBody(rng *rand.Rand) []byte {
	switch rng.IntN(20) {
	case 0:
		return []byte(`[` + string(genValue(rng, 1)) + `]`)
	case 1:
		return genValue(rng, 3)
	}
	var b []byte
	b = append(b, '{')
	keys := []string{"a", "s", "o", "arr", "x", `k\u00e9`}
	for i, n := 0, rng.IntN(7); i < n; i++ {
		if i > 0 {
			b = append(b, ',', ' ')
		}
		key := keys[rng.IntN(len(keys))]
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		switch key {
		case "s":
			if rng.IntN(4) > 0 {
				b = append(b, genString(rng, false)...)
				continue
			}
		case "o":
			if rng.IntN(4) > 0 {
				b = append(b, `{"b": `...)
				b = append(b, genValue(rng, 1)...)
				b = append(b, `, "c": `...)
				b = append(b, genValue(rng, 1)...)
				b = append(b, '}')
				continue
			}
		}
		b = append(b, genValue(rng, 2)...)
	}
	return append(b, '}')
}

func genValue(rng *rand.Rand, depth int) []byte {
	switch k := rng.IntN(10); {
	case k < 4:
		return []byte(genNumber(rng))
	case k < 7:
		return genString(rng, false)
	case k == 7:
		return []byte([]string{"true", "false", "null"}[rng.IntN(3)])
	case depth == 0:
		return []byte(`"leaf"`)
	case k == 8:
		var b []byte
		b = append(b, '[')
		for i, n := 0, rng.IntN(4); i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, genValue(rng, depth-1)...)
		}
		return append(b, ']')
	}
	var b []byte
	b = append(b, '{', ' ')
	for i, n := 0, rng.IntN(4); i < n; i++ {
		if i > 0 {
			b = append(b, ',', '\n')
		}
		b = append(b, genString(rng, false)...)
		b = append(b, ':', ' ')
		b = append(b, genValue(rng, depth-1)...)
	}
	return append(b, '}')
}

// genNumber writes numbers of every shape JSON allows.
func genNumber(rng *rand.Rand) string {
	fixed := []string{"0", "-0", "1", "-1", "42", "42.1", "1.0", "1e3", "1E+2", "-2.5e-3", "0.1", "100.000",
		"12345678901234567890", "9007199254740993", "-9007199254740993", "5e-324", "1.7976931348623157e308",
		"0e0", "123.456789012345678901", "1e21", "1e-7", "0.000001", "1e20", "123456789012345678901234567890"}
	switch rng.IntN(4) {
	case 0:
		return fixed[rng.IntN(len(fixed))]
	case 1:
		return fmt.Sprint(rng.Int64() >> rng.IntN(64))
	case 2:
		return fmt.Sprintf("%g", rng.NormFloat64()*float64(int64(1)<<rng.IntN(70)))
	}
	return fmt.Sprintf("%d.%de%d", rng.IntN(1000), rng.IntN(100000), rng.IntN(40)-20)
}

// genString writes a JSON string literal with escapes, Unicode, HTML characters, C1 controls
// and line separators; plain (for a header value) leaves out what headers cannot carry.
func genString(rng *rand.Rand, plain bool) []byte {
	pieces := []string{"x", "Ann", " ", "<", ">", "&", "é", "😀", "\u2028", "\u0085", "\x7f", "'", "%"}
	if !plain {
		pieces = append(pieces, `\"`, `\\`, `\/`, `\n`, `\t`, `\b`, `\f`, `\r`, `\u00e9`, `\u0001`, `\u001f`,
			`\u007f`, `\u2028`, `\ud83d\ude00`, `\u003c`, `\ud800`, "\xff", `\u0000`)
	}
	var b strings.Builder
	if !plain {
		b.WriteByte('"')
	}
	for i, n := 0, rng.IntN(6); i < n; i++ {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	if !plain {
		b.WriteByte('"')
	}
	return []byte(b.String())
}
