package mapping

import (
	"strconv"
	"strings"
)

// Calls to the template globals normally go through Jsonnet closures (for their optional
// parameters), and every closure call costs go-jsonnet an environment copy. rewriteCalls turns
// plain calls such as Body("a.b") into direct native calls, __kb_body1(__i, k, "a.b")
// (one native per argument count), which is about a third cheaper per event. It works on tokens, so strings and comments are
// never touched, and it leaves a global alone wherever it is used in any other way (passed as
// a value, shadowed, called with named arguments): there the closure stays and semantics hold.

// token is a lexical element of a template: an identifier, a single punctuation character,
// or an opaque run (string literal, comment, white space, number).
type token struct {
	text  string
	ident bool
	space bool // white space or a comment
}

// tokenize splits Jsonnet source into tokens. It need not reject bad input: templates are
// syntax-checked before, and anything odd only means fewer rewrites.
func tokenize(src string) []token {
	var out []token
	for i := 0; i < len(src); {
		j, kind := scanToken(src, i)
		out = append(out, token{text: src[i:j], ident: kind == 'i', space: kind == 's'})
		i = j
	}
	return out
}

// scanToken returns the end of the token at src[i] and its kind: 'i' identifier, 's' space or
// comment, 'o' anything else.
func scanToken(src string, i int) (int, byte) {
	c := src[i]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		j := i + 1
		for j < len(src) && strings.IndexByte(" \t\n\r", src[j]) >= 0 {
			j++
		}
		return j, 's'
	case c == '#' || strings.HasPrefix(src[i:], "//"):
		return endOf(src, i, "\n"), 's'
	case strings.HasPrefix(src[i:], "/*"):
		return endOf(src, i+2, "*/"), 's'
	case strings.HasPrefix(src[i:], "|||"):
		return endOf(src, i+3, "|||"), 'o'
	case c == '"' || c == '\'':
		return quotedEnd(src, i+1, c, true), 'o'
	case c == '@' && i+1 < len(src) && (src[i+1] == '"' || src[i+1] == '\''):
		return quotedEnd(src, i+2, src[i+1], false), 'o'
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		j := i + 1
		for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
			j++
		}
		return j, 'i'
	}
	return i + 1, 'o'
}

// endOf returns the index just past the first closing after from, or the end of src.
func endOf(src string, from int, closing string) int {
	if k := strings.Index(src[from:], closing); k >= 0 {
		return from + k + len(closing)
	}
	return len(src)
}

// quotedEnd finds the end of a string literal; escapes are backslashes, or (verbatim strings)
// a doubled quote.
func quotedEnd(src string, j int, quote byte, escapes bool) int {
	for ; j < len(src); j++ {
		switch {
		case escapes && src[j] == '\\':
			j++
		case src[j] == quote:
			if !escapes && j+1 < len(src) && src[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(src)
}

// native names, by argument count, the natives a global's call maps onto; template marks
// those that also take the template number, to name the column in errors.
type native struct {
	byArgs   []string
	template bool
}

var directNatives = map[string]native{
	"Ip":        {byArgs: []string{"__kb_ip"}},
	"Now":       {byArgs: []string{"__kb_now0", "__kb_now1"}},
	"Body":      {byArgs: []string{"__kb_body0", "__kb_body1", "__kb_body2"}, template: true},
	"BodyStr":   {byArgs: []string{"__kb_bodystr"}},
	"Header":    {byArgs: []string{"__kb_header0", "__kb_header1", "__kb_header2"}, template: true},
	"HeaderStr": {byArgs: []string{"__kb_headerstr"}},
	"Topic":     {byArgs: []string{"__kb_topic"}},
	"Partition": {byArgs: []string{"__kb_partition"}},
	"Offset":    {byArgs: []string{"__kb_offset"}},
	"Key":       {byArgs: []string{"__kb_key"}},
	"Timestamp": {byArgs: []string{"__kb_timestamp0", "__kb_timestamp1"}},
}

// rewriteCalls returns template k with direct native calls, and the globals that must still be
// defined as closures because they are used in some other way. A global used any other way
// anywhere (shadowed, passed, a field name) is not rewritten at all.
func rewriteCalls(content string, k int) (string, map[string]bool) {
	toks := tokenize(content)
	replace := map[int]string{}
	keep := map[string]bool{}
	for i, t := range toks {
		n, isGlobal := directNatives[t.text]
		if !t.ident || !isGlobal || keep[t.text] {
			continue
		}
		prev, open := prevSignificant(toks, i), nextSignificant(toks, i)
		if prev >= 0 && (toks[prev].text == "." || toks[prev].text == "local") || open < 0 || toks[open].text != "(" {
			keep[t.text] = true
			continue
		}
		closeAt, args := scanArgs(toks, open)
		if closeAt < 0 || args >= len(n.byArgs) {
			keep[t.text] = true
			continue
		}
		head := "(__i"
		if n.template {
			head += ", " + strconv.Itoa(k)
		}
		if args > 0 {
			head += ", "
		}
		replace[i], replace[open] = n.byArgs[args], head
	}
	var b strings.Builder
	for i, t := range toks {
		if r, ok := replace[i]; ok && !keep[toks[callee(toks, i, replace)].text] {
			b.WriteString(r)
			continue
		}
		b.WriteString(t.text)
	}
	return b.String(), keep
}

// callee finds the global whose call token i belongs to: i itself for the name, or the name
// before the opening parenthesis; a closing parenthesis is matched by a backward scan.
func callee(toks []token, i int, replace map[int]string) int {
	if toks[i].ident {
		return i
	}
	if toks[i].text == "(" {
		return prevSignificant(toks, i)
	}
	depth := 0
	for j := i; j >= 0; j-- {
		switch toks[j].text {
		case ")", "]", "}":
			depth++
		case "(", "[", "{":
			depth--
			if depth == 0 {
				return prevSignificant(toks, j)
			}
		}
	}
	return i
}

// scanArgs finds the parenthesis that closes the one at open and counts the arguments. It
// returns -1 for calls it does not rewrite: named arguments, a trailing comma, no closing.
func scanArgs(toks []token, open int) (closeAt, args int) {
	depth, empty := 0, true
	for j := open; j < len(toks); j++ {
		t := toks[j].text
		switch {
		case t == "(" || t == "[" || t == "{":
			depth++
		case t == ")" || t == "]" || t == "}":
			depth--
			if depth == 0 {
				if empty {
					return j, 0
				}
				if toks[prevSignificant(toks, j)].text == "," {
					return -1, 0
				}
				return j, args + 1
			}
		case depth == 1 && t == ",":
			args++
		case depth == 1 && t == "=" && isNamedArg(toks, j):
			return -1, 0
		}
		if j > open && !toks[j].space {
			empty = false
		}
	}
	return -1, 0
}

// isNamedArg tells "name = value" from the comparison operators around an '=' token.
func isNamedArg(toks []token, j int) bool {
	prev, next := prevSignificant(toks, j), nextSignificant(toks, j)
	return prev >= 0 && toks[prev].ident && next >= 0 && toks[next].text != "="
}

func prevSignificant(toks []token, i int) int {
	for j := i - 1; j >= 0; j-- {
		if !toks[j].space {
			return j
		}
	}
	return -1
}

func nextSignificant(toks []token, i int) int {
	for j := i + 1; j < len(toks); j++ {
		if !toks[j].space {
			return j
		}
	}
	return -1
}
