package mapping

import (
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// compilePath turns a Keboola path ("a.b[1].c", "" for the whole body) into a gjson path
// ("a.b.1.c"). Other gjson syntax (wildcards, "#", modifiers) passes through unchanged.
func compilePath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 == len(p) {
				return "", fmt.Errorf("path %q ends with an escape character", p)
			}
			b.WriteByte(c)
			i++
			b.WriteByte(p[i])
			continue
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return "", fmt.Errorf("path %q has an unclosed '['", p)
			}
			index := p[i+1 : i+end]
			if index == "" || strings.Trim(index, "0123456789") != "" {
				return "", fmt.Errorf("path %q: %q is not an array index", p, p[i:i+end+1])
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(index)
			i += end
			continue
		case ']':
			return "", fmt.Errorf("path %q has a ']' without '['", p)
		}
		b.WriteByte(c)
	}
	out := b.String()
	if strings.HasPrefix(out, ".") || strings.HasSuffix(out, ".") || strings.Contains(out, "..") {
		return "", fmt.Errorf("path %q has an empty segment", p)
	}
	return out, nil
}

// appendPath renders a path column: the value at the path as compact JSON, a string unquoted
// when rawString is set, the default when the path is missing.
func (r *Renderer) appendPath(dst []byte, c *compiledColumn, ev *Event) ([]byte, error) {
	body, err := r.body.parse(ev)
	if err != nil {
		return dst, err
	}
	raw := strings.TrimSpace(body)
	isString := len(raw) > 0 && raw[0] == '"'
	if c.path != "" {
		res := gjson.Get(body, c.path)
		if !res.Exists() {
			return appendDefault(dst, c)
		}
		raw, isString = res.Raw, res.Type == gjson.String
	}
	if c.def.RawString && isString {
		return appendUnquoted(dst, raw), nil
	}
	return appendCompactJSON(dst, raw, true), nil
}

func appendDefault(dst []byte, c *compiledColumn) ([]byte, error) {
	switch {
	case c.def.DefaultValue == nil:
		return dst, errorf(ErrNotFound, "path %q not found in the body", c.def.Path)
	case c.def.RawString:
		return append(dst, *c.def.DefaultValue...), nil
	default:
		return appendJSONString(dst, *c.def.DefaultValue), nil
	}
}
