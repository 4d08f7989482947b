package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// parseJSON reads one JSON document, numbers kept as their text. The document is checked by
// json.Valid first, so the reader that follows only has to find the values.
func parseJSON(data []byte) (any, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v) // tells why
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, err
	}
	p := jsonReader{data: data}
	return p.value(), nil
}

// jsonReader reads a valid JSON document.
type jsonReader struct {
	data []byte
	pos  int
}

func (p *jsonReader) skipSpace() {
	for p.pos < len(p.data) && (p.data[p.pos] == ' ' || p.data[p.pos] == '\t' || p.data[p.pos] == '\n' || p.data[p.pos] == '\r') {
		p.pos++
	}
}

func (p *jsonReader) value() any {
	p.skipSpace()
	switch c := p.data[p.pos]; c {
	case '{':
		p.pos++
		obj := &Object{}
		for p.skipSpace(); p.data[p.pos] != '}'; p.skipSpace() {
			if p.data[p.pos] == ',' {
				p.pos++
				p.skipSpace()
			}
			name := p.string()
			p.skipSpace()
			p.pos++ // ':'
			obj.Members = append(obj.Members, Member{name, p.value()})
		}
		p.pos++
		return obj
	case '[':
		p.pos++
		list := []any{}
		for p.skipSpace(); p.data[p.pos] != ']'; p.skipSpace() {
			if p.data[p.pos] == ',' {
				p.pos++
			}
			list = append(list, p.value())
		}
		p.pos++
		return list
	case '"':
		return p.string()
	case 't':
		p.pos += 4
		return true
	case 'f':
		p.pos += 5
		return false
	case 'n':
		p.pos += 4
		return nil
	}
	start := p.pos
	for p.pos < len(p.data) && strings.IndexByte("+-0123456789.eE", p.data[p.pos]) >= 0 {
		p.pos++
	}
	return json.Number(p.data[start:p.pos])
}

// string reads a string; one with escapes is decoded by encoding/json.
func (p *jsonReader) string() string {
	start := p.pos
	p.pos++
	escaped := false
	for p.data[p.pos] != '"' {
		if p.data[p.pos] == '\\' {
			escaped = true
			p.pos++
		}
		p.pos++
	}
	p.pos++
	if !escaped {
		return string(p.data[start+1 : p.pos-1])
	}
	var s string
	_ = json.Unmarshal(p.data[start:p.pos], &s) // valid: checked with the document
	return s
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
// A string of printable ASCII without quotes and backslashes is written as it is.
func appendString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		return append(append(append(b, '"'), s...), '"')
	}
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
