package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// A JSON value is one of: nil, bool, json.Number, string, []any, *Object.

// Object is a JSON object that keeps its members in order.
type Object struct {
	Members []Member
}

// Member is one name and value of an Object.
type Member struct {
	Name  string
	Value any
}

// index returns the position of name, or -1.
func (o *Object) index(name string) int {
	for i := range o.Members {
		if o.Members[i].Name == name {
			return i
		}
	}
	return -1
}

// Get returns the value of name and whether it is there.
func (o *Object) Get(name string) (any, bool) {
	if i := o.index(name); i >= 0 {
		return o.Members[i].Value, true
	}
	return nil, false
}

// Put sets name to v in place, or appends it, as a Java LinkedHashMap's put does.
func (o *Object) Put(name string, v any) {
	if i := o.index(name); i >= 0 {
		o.Members[i].Value = v
		return
	}
	o.Members = append(o.Members, Member{name, v})
}

// Remove deletes name and returns its value and whether it was there.
func (o *Object) Remove(name string) (any, bool) {
	i := o.index(name)
	if i < 0 {
		return nil, false
	}
	v := o.Members[i].Value
	o.Members = append(o.Members[:i], o.Members[i+1:]...)
	return v, true
}

// parseJSON reads one JSON document, numbers kept as their text.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			list := []any{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		obj := &Object{}
		for dec.More() {
			name, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			obj.Members = append(obj.Members, Member{name.(string), v})
		}
		_, err := dec.Token()
		return obj, err
	default:
		return tok, nil
	}
}

// appendJSON writes v as compact JSON.
func appendJSON(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, t)
	case json.Number:
		return append(b, t...)
	case string:
		return appendString(b, t)
	case []any:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case *Object:
		b = append(b, '{')
		for i, m := range t.Members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.Name)
			b = append(b, ':')
			b = appendJSON(b, m.Value)
		}
		return append(b, '}')
	}
	panic(fmt.Sprintf("transform: no JSON form for %T", v))
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced, nothing else (no HTML escaping).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r) // utf8.RuneError for an invalid byte
		i += size
	}
	return append(b, '"')
}

// typeName names a value's JSON type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}
