package mapping

import (
	"strconv"
	"strings"
)

// A path ("a.b[1].c") is read as Keboola reads it (orderedmap.PathFromStr in keboola/go-utils):
// split at every '.' and '[', empty pieces dropped (so "a..b" is "a.b" and a leading '.' is
// ignored), a piece of digits closed by ']' an array index, every other piece an object key
// taken literally: '*', '?', '#', '\' and a stray ']' are ordinary key characters. Every
// string is a valid path; "" is the whole body.

// pathStep is one piece of a path: an object key, or an array index when index >= 0.
type pathStep struct {
	key   string // the key, or the index in decimal
	index int
}

// compilePath splits a path into steps; nil for the whole body.
func compilePath(p string) []pathStep {
	var steps []pathStep
	for p != "" {
		end := strings.IndexAny(p, ".[")
		if end < 0 {
			end = len(p)
		}
		piece := p[:end]
		if end < len(p) {
			end++
		}
		p = p[end:]
		if piece == "" {
			continue
		}
		step := pathStep{key: piece, index: -1}
		if n := len(piece); n > 1 && piece[n-1] == ']' && strings.Trim(piece[:n-1], "0123456789") == "" {
			step.index, _ = strconv.Atoi(piece[:n-1]) // out of range: the largest int, never found
			step.key = strconv.Itoa(step.index)
		}
		steps = append(steps, step)
	}
	return steps
}

// lookupMode is how a path walks JSON. Keboola walks a JSON body for a path column with
// fastjson: every step is a key or, in an array, a decimal index (strconv.Atoi), and the first
// of duplicate keys wins. It walks a decoded body (templates' Body, and form data everywhere)
// with orderedmap.GetNestedPath: keys only in objects, indexes only in arrays, and the last of
// duplicate keys wins, as json.Unmarshal keeps it.
type lookupMode uint8

const (
	lookupRaw lookupMode = iota
	lookupDecoded
)

// lookup returns the raw JSON text of the value at steps in the valid JSON doc. On the way down
// a value is held open-ended, from its start to the end of doc: its end is found once, for
// the value returned.
func lookup(doc string, steps []pathStep, mode lookupMode) (string, bool) {
	v := trimJSONSpace(doc)
	for _, s := range steps {
		var ok bool
		switch {
		case v == "":
			return "", false
		case v[0] == '{' && (mode == lookupRaw || s.index < 0):
			v, ok = objectField(v, s.key, mode == lookupDecoded)
		case v[0] == '[' && mode == lookupRaw:
			n, err := strconv.Atoi(s.key)
			v, ok = arrayElement(v, n), err == nil && n >= 0
		case v[0] == '[' && s.index >= 0:
			v = arrayElement(v, s.index)
			ok = true
		}
		if !ok || v == "" {
			return "", false
		}
	}
	return v[:valueEnd(v, 0)], true
}

// objectField returns the value of key in the object that obj starts with, open-ended.
// Decoded (encoding/json), keys are compared unescaped and the last duplicate wins. Raw, it
// searches as fastjson's Object.Get does: first the keys as written, then, when none matched,
// the keys unescaped; the first match wins.
func objectField(obj, key string, decoded bool) (string, bool) {
	if decoded {
		return scanObject(obj, key, true, true)
	}
	if indexBackslash(key) == len(key) {
		if v, ok := scanObject(obj, key, false, false); ok {
			return v, true
		}
	}
	return scanObject(obj, key, true, false)
}

// scanObject finds key in the object obj starts with, comparing keys unescaped or as written,
// returning the first or the last match, open-ended.
func scanObject(obj, key string, unescaped, last bool) (string, bool) {
	var found string
	ok := false
	i := skipJSONSpace(obj, 1)
	for i < len(obj) && obj[i] == '"' {
		end := stringEnd(obj, i)
		var match bool
		if unescaped {
			match = jsonStringEquals(obj[i:end], key)
		} else {
			match = obj[i+1:end-1] == key
		}
		i = skipJSONSpace(obj, end)
		i = skipJSONSpace(obj, i+1) // ':'
		if match {
			found, ok = obj[i:], true
			if !last || noDuplicate(found, key) {
				return found, true
			}
		}
		i = skipJSONSpace(obj, valueEnd(obj, i))
		if i < len(obj) && obj[i] == ',' {
			i = skipJSONSpace(obj, i+1)
		}
	}
	return found, ok
}

// noDuplicate tells, by vectorised searches, that rest cannot hold key again: neither its text
// nor any escape appears in it. Otherwise the caller scans on.
func noDuplicate(rest, key string) bool {
	if key == "" || strings.IndexByte(rest, '\\') >= 0 {
		return false
	}
	for c := key[0]; ; { // strings.Contains, jumping between the key's first bytes
		i := strings.IndexByte(rest, c)
		if i < 0 {
			return true
		}
		if strings.HasPrefix(rest[i:], key) {
			return false
		}
		rest = rest[i+1:]
	}
}

// arrayElement returns element n of the array arr starts with, open-ended, or "".
func arrayElement(arr string, n int) string {
	i := skipJSONSpace(arr, 1)
	for k := 0; i < len(arr) && arr[i] != ']'; k++ {
		if k == n {
			return arr[i:]
		}
		i = skipJSONSpace(arr, valueEnd(arr, i))
		if i < len(arr) && arr[i] == ',' {
			i = skipJSONSpace(arr, i+1)
		}
	}
	return ""
}

// jsonStringEquals compares the string literal lit (quotes included) with s, resolving escapes.
func jsonStringEquals(lit, s string) bool {
	inner := lit[1 : len(lit)-1]
	if indexBackslash(inner) == len(inner) {
		return inner == s
	}
	var buf [128]byte
	return string(appendUnescaped(buf[:0], inner)) == s
}

// valueEnd returns the index just past the JSON value that starts at v[i].
func valueEnd(v string, i int) int {
	if i >= len(v) {
		return i
	}
	switch v[i] {
	case '"':
		return stringEnd(v, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(v); j++ {
			switch v[j] {
			case '"':
				j = stringEnd(v, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(v)
	}
	j := i + 1
	for j < len(v) && !isJSONSpecial(v[j]) && v[j] != ',' && v[j] != '}' && v[j] != ']' {
		j++
	}
	return j
}

func skipJSONSpace(v string, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

func trimJSONSpace(v string) string {
	v = v[skipJSONSpace(v, 0):]
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t' || v[len(v)-1] == '\n' || v[len(v)-1] == '\r') {
		v = v[:len(v)-1]
	}
	return v
}

// appendPath renders a path column: the value at the path as compact JSON with its strings
// and keys as the body wrote them, a string unquoted when rawString is set, the default when
// the path is missing.
func (r *Renderer) appendPath(dst []byte, c *compiledColumn, ev *Event) ([]byte, error) {
	body, err := r.body.parse(ev)
	if err != nil {
		return dst, err
	}
	mode := lookupRaw
	if r.body.form {
		mode = lookupDecoded
		if c.def.Path != "" && len(c.path) == 0 {
			return appendDefault(dst, c) // orderedmap: an empty path is not found
		}
	}
	raw, ok := lookup(body, c.path, mode)
	if !ok {
		return appendDefault(dst, c)
	}
	if c.def.RawString && raw[0] == '"' {
		return appendUnquoted(dst, raw), nil
	}
	return appendCompactJSON(dst, raw), nil
}

// appendDefault renders the default of a path column, JSON-encoded as Go's json.Marshal does
// unless rawString is set, as Keboola does.
func appendDefault(dst []byte, c *compiledColumn) ([]byte, error) {
	switch {
	case c.def.DefaultValue == nil:
		return dst, errorf(ErrNotFound, "path %q not found in the body", c.def.Path)
	case c.def.RawString:
		return append(dst, *c.def.DefaultValue...), nil
	default:
		return appendMarshalledString(dst, *c.def.DefaultValue), nil
	}
}
