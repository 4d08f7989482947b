package mapping

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Many templates only join strings: Body("user.name") + "-" + Header("X-Id", "none"). Such a
// template compiles to a stringExpr and runs in Go, using the lookups the Jsonnet natives use,
// at a fraction of an evaluation's cost. The result is a string exactly when the Jsonnet result
// would be one; for an event where a value is not a string (a number, an object, a null), the
// expression reports so and the event is evaluated in Jsonnet, so semantics stay Jsonnet's.

// stringExpr is a concatenation of parts.
type stringExpr []exprPart

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
	expr, ok := p.expr()
	return expr, ok && p.pos == len(toks)
}

type exprParser struct {
	toks []string
	pos  int
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) expr() (stringExpr, bool) {
	var out stringExpr
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

func (p *exprParser) part() (stringExpr, bool) {
	tok := p.peek()
	p.pos++
	if tok == "(" {
		inner, ok := p.expr()
		if !ok || p.peek() != ")" {
			return nil, false
		}
		p.pos++
		return inner, true
	}
	if s, ok := jsonnetStringLiteral(tok); ok {
		return stringExpr{{literal: s}}, true
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
			return stringExpr{call}, true
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

// eval appends the expression's value for event i as a JSON string in go-jsonnet's escaping.
// ok is false when some value is not a string: the event then needs Jsonnet.
func (x stringExpr) eval(dst []byte, s *evalState, i, k int) (out []byte, ok bool) {
	start := len(dst)
	dst = append(dst, '"')
	ev := &s.events[i]
	for _, part := range x {
		val, ok := s.call(ev, i, k, part)
		if s.errs[i] != nil {
			return dst[:start], true // failed as the native would have: the error is recorded
		}
		v, isString := val.(string)
		if !ok || !isString {
			return dst[:start], false
		}
		dst = appendJsonnetEscaped(dst, v)
	}
	return append(dst, '"'), true
}

// call runs a global through the same code as its native.
func (s *evalState) call(ev *Event, i, k int, part exprPart) (any, bool) {
	arg := func(n int) any {
		if n < len(part.args) {
			return part.args[n]
		}
		return nil
	}
	var v any
	var err error
	switch part.global {
	case "":
		return part.literal, true
	case "Body":
		v, err = s.body(ev, i, k, arg(0), arg(1), len(part.args) == 2)
	case "Header":
		v, err = s.header(ev, i, k, arg(0), arg(1), len(part.args) == 2)
	default:
		v, err = s.natives[part.global](ev, i, part.args)
	}
	return v, err == nil
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
