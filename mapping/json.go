package mapping

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendEscaped appends the escape of ASCII byte c: the short forms \" \\ \n \r \t (and
// \b \f with marshal, as encoding/json writes them), else \u00XX.
func appendEscaped(dst []byte, c byte, marshal bool) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c == '\n':
		return append(dst, '\\', 'n')
	case c == '\r':
		return append(dst, '\\', 'r')
	case c == '\t':
		return append(dst, '\\', 't')
	case marshal && c == '\b':
		return append(dst, '\\', 'b')
	case marshal && c == '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendJSONString appends s as a JSON string. Only what JSON requires is escaped (quote,
// backslash, control characters); everything else, non-ASCII included, is copied as UTF-8.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = appendEscaped(append(dst, s[start:i]...), c, false)
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendUnquoted appends the content of the JSON string literal lit (quotes included),
// resolving escapes.
func appendUnquoted(dst []byte, lit string) []byte {
	if len(lit) >= 2 && lit[0] == '"' {
		lit = lit[1 : len(lit)-1]
	}
	return appendUnescaped(dst, lit)
}

// appendUnescaped appends raw, the inside of a string literal, resolving escapes. Invalid
// escapes are copied as they are; callers validate first.
func appendUnescaped(dst []byte, raw string) []byte {
	for len(raw) > 0 {
		i := indexBackslash(raw)
		dst = append(dst, raw[:i]...)
		if i == len(raw) {
			break
		}
		raw = raw[i:]
		if len(raw) < 2 {
			return append(dst, raw...)
		}
		n := 2
		switch raw[1] {
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			var r rune
			r, n = decodeUnicodeEscape(raw)
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[1])
		}
		raw = raw[n:]
	}
	return dst
}

func indexBackslash(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			return i
		}
	}
	return len(s)
}

// decodeUnicodeEscape decodes `\uXXXX`, joining a surrogate pair; it returns the rune and how
// many bytes it consumed.
func decodeUnicodeEscape(s string) (rune, int) {
	if len(s) < 6 {
		return utf8.RuneError, len(s)
	}
	v, err := strconv.ParseUint(s[2:6], 16, 16)
	if err != nil {
		return utf8.RuneError, 6
	}
	r := rune(v)
	if utf16.IsSurrogate(r) && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if v2, err := strconv.ParseUint(s[8:12], 16, 16); err == nil {
			if pair := utf16.DecodeRune(r, rune(v2)); pair != utf8.RuneError {
				return pair, 12
			}
		}
	}
	return r, 6
}

// appendCompactJSON appends the valid JSON value raw without insignificant white space. Numbers,
// strings and keys keep their exact text, escapes included, as Keboola writes a path value
// (fastjson's Value.String).
func appendCompactJSON(dst []byte, raw string) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			end := stringEnd(raw, i)
			dst = append(dst, raw[i:end]...)
			i = end
		default:
			j := i + 1
			for j < len(raw) && !isJSONSpecial(raw[j]) {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
		}
	}
	return dst
}

// appendMarshalledString appends s as a JSON string exactly as Go's json.Marshal writes it,
// which is how Keboola writes the headers column, a quoted defaultValue and form-data values:
// quote, backslash and \b \f \n \r \t escaped, other controls and '<', '>', '&' as \u00XX,
// U+2028 and U+2029 as \u2028 and \u2029, each invalid UTF-8 byte as \ufffd.
func appendMarshalledString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = appendEscaped(append(dst, s[start:i]...), c, true)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func isJSONSpecial(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"'
}

// stringEnd returns the index just past the string literal that starts at raw[i]. Short
// strings are scanned byte by byte; past 16 bytes it jumps from quote to quote (vectorised)
// and counts the backslashes before each.
func stringEnd(raw string, i int) int {
	j := i + 1
	for n := min(len(raw), j+16); j < n; j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	for ; j < len(raw); j++ {
		k := strings.IndexByte(raw[j:], '"')
		if k < 0 {
			break
		}
		j += k
		escaped := false
		for b := j - 1; b > i && raw[b] == '\\'; b-- {
			escaped = !escaped
		}
		if !escaped {
			return j + 1
		}
	}
	return len(raw)
}
