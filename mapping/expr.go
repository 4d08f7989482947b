package mapping

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Many templates only join strings: Body("user.name") + "-" + Header("X-Id", "none"), or are
// a single lookup: Body("total"). Such a template compiles to a stringExpr and runs in Go,
// using the lookups the Jsonnet natives use, at a fraction of an evaluation's cost. It writes
// what Jsonnet writes: strings in go-jsonnet's escaping, numbers as go-jsonnet prints them
// (see appendJsonnetNumber), and a number, boolean or null joined to a string as its text,
// Jsonnet's string concatenation. Whatever else comes up for an event (an object, an array,
// two numbers added, a number inside parentheses whose grouping would matter), the
// expression reports so and the event is evaluated in Jsonnet, so semantics stay Jsonnet's.
// FuzzShortcuts holds the two to the same output.

// stringExpr is a concatenation of parts.
type stringExpr struct {
	parts   []exprPart
	grouped bool // written with parentheses: only strings are joined in Go
}

// exprPart is a string literal (global == "") or a call of a global with literal arguments.
type exprPart struct {
	literal string
	global  string
	args    []any // strings, boxed once here rather than per call
}

// stringGlobals are the globals whose calls may return strings, with their argument counts.
var stringGlobals = map[string][]int{
	"Ip": {0}, "Now": {0, 1}, "Body": {1, 2}, "BodyStr": {0}, "Header": {1, 2}, "HeaderStr": {0},
	"Topic": {0}, "Key": {0}, "Timestamp": {0, 1},
}

// compileStringExpr parses content as: part ('+' part)*, where a part is a quoted string, a
// call of a string global with quoted-string arguments, or a parenthesised expression.
func compileStringExpr(content string) (stringExpr, bool) {
	var toks []string
	for _, t := range tokenize(content) {
		if !t.space {
			toks = append(toks, t.text)
		}
	}
	p := exprParser{toks: toks}
	parts, ok := p.expr()
	return stringExpr{parts: parts, grouped: p.grouped}, ok && p.pos == len(toks)
}

type exprParser struct {
	toks    []string
	pos     int
	grouped bool
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) expr() ([]exprPart, bool) {
	var out []exprPart
	for {
		parts, ok := p.part()
		if !ok {
			return nil, false
		}
		out = append(out, parts...)
		if p.peek() != "+" {
			return out, true
		}
		p.pos++
	}
}

func (p *exprParser) part() ([]exprPart, bool) {
	tok := p.peek()
	p.pos++
	if tok == "(" {
		p.grouped = true
		inner, ok := p.expr()
		if !ok || p.peek() != ")" {
			return nil, false
		}
		p.pos++
		return inner, true
	}
	if s, ok := jsonnetStringLiteral(tok); ok {
		return []exprPart{{literal: s}}, true
	}
	arities, isGlobal := stringGlobals[tok]
	if !isGlobal || p.peek() != "(" {
		return nil, false
	}
	p.pos++
	call := exprPart{global: tok}
	for p.peek() != ")" {
		if len(call.args) > 0 {
			if p.peek() != "," {
				return nil, false
			}
			p.pos++
		}
		arg, ok := jsonnetStringLiteral(p.peek())
		if !ok {
			return nil, false
		}
		call.args = append(call.args, any(arg))
		p.pos++
	}
	p.pos++
	for _, n := range arities {
		if n == len(call.args) {
			return []exprPart{call}, true
		}
	}
	return nil, false
}

// jsonnetStringLiteral decodes a "..." or '...' literal. It takes the escapes Jsonnet and JSON
// share (and \'), without surrogates; verbatim strings, text blocks and anything unusual are
// left to Jsonnet.
func jsonnetStringLiteral(tok string) (string, bool) {
	if len(tok) < 2 || (tok[0] != '"' && tok[0] != '\'') || tok[len(tok)-1] != tok[0] {
		return "", false
	}
	body := tok[1 : len(tok)-1]
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if i++; i == len(body) || strings.IndexByte(`"'\/bfnrtu`, body[i]) < 0 {
			return "", false
		}
		if body[i] == 'u' {
			v, err := strconv.ParseUint(body[i+1:min(i+5, len(body))], 16, 16)
			if err != nil || i+5 > len(body) || utf16Surrogate(rune(v)) {
				return "", false
			}
		}
	}
	return string(appendUnescaped(nil, body)), true
}

func utf16Surrogate(r rune) bool { return r >= 0xd800 && r < 0xe000 }

// eval appends the expression's value for event i as JSON in go-jsonnet's writing. ok is false
// when the event needs Jsonnet.
func (x *stringExpr) eval(dst []byte, s *evalState, i, k int) (out []byte, ok bool) {
	start := len(dst)
	ev := &s.events[i]
	quoted := false // dst holds the opened string
	var pending any // a first value that is not a string, until a string follows
	for _, part := range x.parts {
		str, isString, val, ok := s.call(ev, i, k, part)
		if s.errs[i] != nil {
			return dst[:start], true // failed as the native would have: the error is recorded
		}
		if !ok {
			return dst[:start], false
		}
		if isString {
			if !quoted {
				dst, quoted = append(dst, '"'), true
				if pending != nil {
					if dst, ok = appendJsonnetScalar(dst, pending); !ok {
						return dst[:start], false
					}
					pending = nil
				}
			}
			dst = appendJsonnetEscaped(dst, str)
			continue
		}
		if val == nil {
			val = jsonNull{}
		}
		switch {
		case x.grouped || pending != nil || !isJSONScalar(val):
			return dst[:start], false // (a + b), two non-strings added, an object or array
		case quoted:
			if dst, ok = appendJsonnetScalar(dst, val); !ok {
				return dst[:start], false
			}
		default:
			pending = val
		}
	}
	if pending != nil { // the template is this one value
		if dst, ok = appendJsonnetScalar(dst, pending); !ok {
			return dst[:start], false
		}
		return dst, true
	}
	return append(dst, '"'), true
}

// jsonNull stands for a null value while it waits to be joined.
type jsonNull struct{}

// appendJsonnetScalar appends a number, boolean or null as Jsonnet writes it, alone or joined to
// a string; ok is false for anything else.
func appendJsonnetScalar(dst []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return dst, false
		}
		return appendJsonnetNumber(dst, v), true
	case bool:
		return strconv.AppendBool(dst, v), true
	case jsonNull:
		return append(dst, "null"...), true
	}
	return dst, false
}

// appendJsonnetNumber writes v as go-jsonnet's unparseNumber does: an integral value with
// "%.0f", any other with "%.17g" (so 42.1 is 42.100000000000001 and 1e3 is 1000).
func appendJsonnetNumber(dst []byte, v float64) []byte {
	if v == math.Floor(v) {
		return strconv.AppendFloat(dst, v, 'f', 0, 64)
	}
	return strconv.AppendFloat(dst, v, 'g', 17, 64)
}

// call runs a global through the same code as its native. A string comes back as str (not
// boxed, borrowed from the event or the state until the next call), anything else as val; ok
// is false when the native would return an error.
func (s *evalState) call(ev *Event, i, k int, part exprPart) (str string, isString bool, val any, ok bool) {
	arg := func(n int) any {
		if n < len(part.args) {
			return part.args[n]
		}
		return nil
	}
	var err error
	switch part.global {
	case "":
		return part.literal, true, nil, true
	case "Body":
		var raw string
		var found, failed bool
		raw, found, failed, err = s.bodyLookup(ev, i, k, arg(0))
		switch {
		case err != nil || failed:
		case found && raw[0] == '"':
			str = raw[1 : len(raw)-1]
			if indexBackslash(str) < len(str) {
				s.scratch = appendUnescaped(s.scratch[:0], str)
				str = bytesToString(s.scratch)
			}
			return str, true, nil, true
		case found:
			val = decodeValue(raw)
		case len(part.args) == 2:
			val = part.args[1]
		default:
			s.fail(i, k, errorf(ErrNotFound, "path %q not found in the body", arg(0)))
		}
	case "Header":
		if values := ev.Header[http.CanonicalHeaderKey(part.args[0].(string))]; len(values) > 0 {
			return values[0], true, nil, true
		}
		val, err = s.header(ev, i, k, arg(0), arg(1), len(part.args) == 2)
	default:
		val, err = s.natives[part.global](ev, i, part.args)
	}
	str, isString = val.(string)
	return str, isString, val, err == nil
}

// appendJsonnetEscaped appends the inside of a JSON string as go-jsonnet manifests it: quote,
// backslash and \b \f \n \r \t escaped, other controls and U+007F–U+009F as \u00XX, each
// invalid UTF-8 byte as U+FFFD.
func appendJsonnetEscaped(dst []byte, v string) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		i += size
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\b':
			dst = append(dst, '\\', 'b')
		case r == '\f':
			dst = append(dst, '\\', 'f')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

func isJSONScalar(v any) bool {
	switch v.(type) {
	case float64, bool, jsonNull:
		return true
	}
	return false
}
