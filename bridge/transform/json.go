package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
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
		return appendList(b, '[', ']', len(t), func(b []byte, i int) []byte { return appendJSON(b, t[i]) })
	case *Object:
		return appendList(b, '{', '}', len(t.Members), func(b []byte, i int) []byte {
			return appendJSON(append(appendString(b, t.Members[i].Name), ':'), t.Members[i].Value)
		})
	}
	panic(fmt.Sprintf("transform: no JSON form for %T", v))
}

// appendList writes n items between open and close, separated by commas.
func appendList(b []byte, open, close byte, n int, item func(b []byte, i int) []byte) []byte {
	b = append(b, open)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = item(b, i)
	}
	return append(b, close)
}

// appendString writes s as a JSON string as Connect's JsonConverter does: no HTML escaping.
func appendString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
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
