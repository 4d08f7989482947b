package transform

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// cast is Cast: fields (or the whole key or value) cast to int8, int16, int32, int64,
// float32, float64, boolean or string, as Connect casts schemaless values.
type cast struct {
	key    bool
	whole  string            // the type of the whole key or value; "" when fields are cast
	fields map[string]string // field → type
	order  []string
}

var castTypes = []string{"int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string"}

func newCast(c *conf) any {
	t := &cast{key: c.key, fields: map[string]string{}}
	spec := c.list("spec")
	if len(spec) == 0 {
		c.fail("spec", "missing: a list of field:type, or one type for the whole %s", map[bool]string{true: "key", false: "value"}[c.key])
	}
	for _, item := range spec {
		field, typ, hasField := strings.Cut(item, ":")
		if !hasField {
			typ, field = field, ""
		}
		typ = strings.ToLower(strings.TrimSpace(typ))
		if !contains(castTypes, typ) {
			c.fail("spec", "invalid cast type %q in %q; one of %s", typ, item, strings.Join(castTypes, ", "))
			continue
		}
		if !hasField {
			if len(spec) > 1 {
				c.fail("spec", "a cast of the whole %s (%q) cannot come with field casts", map[bool]string{true: "key", false: "value"}[c.key], item)
			}
			t.whole = typ
			continue
		}
		t.fields[strings.TrimSpace(field)] = typ
		t.order = append(t.order, strings.TrimSpace(field))
	}
	c.replaceNullWithDefault()
	return t
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func (t *cast) apply(r *Record) (bool, error) {
	if t.whole != "" {
		return r.convertWhole(t.key, func(v any) (any, error) { return castValue(v, t.whole) })
	}
	o, err := r.objectData(t.key, "cast types")
	if o == nil {
		return err == nil, err // a null key or value stays as it is
	}
	for i := range o.Members {
		if typ, ok := t.fields[o.Members[i].Name]; ok {
			if o.Members[i].Value, err = castValue(o.Members[i].Value, typ); err != nil {
				return false, err
			}
		}
	}
	r.set(t.key, o)
	return true, nil
}

// castValue casts one schemaless value as Connect's Cast does: numbers by Java's narrowing
// conversions, booleans as 1 and 0, strings parsed, anything to string by its text.
func castValue(v any, typ string) (any, error) {
	var (
		i     int64
		f     float64
		isInt bool
	)
	switch n := v.(type) {
	case nil:
		return nil, nil
	case *Object, []any:
		return nil, &dataError{fmt.Sprintf("Cast transformation does not support casting from %s; supported types are INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING", strings.ToUpper(map[bool]string{true: "map", false: "array"}[typeName(v) == "object"]))}
	case bool:
		if typ == "string" {
			return strconv.FormatBool(n), nil
		}
		if typ == "boolean" {
			return n, nil
		}
		if n {
			i, f = 1, 1
		}
		isInt = true
	case string:
		return castString(n, typ)
	case json.Number:
		if isInt = integral(n); isInt {
			var err error
			if i, err = strconv.ParseInt(string(n), 10, 64); err != nil {
				return nil, &dataError{fmt.Sprintf("Cast transformation cannot cast %s: out of the range of a long", n)}
			}
			f = float64(i)
		} else {
			f, _ = strconv.ParseFloat(string(n), 64)
			i = javaLong(f)
		}
		if typ == "string" {
			if isInt {
				return string(n), nil
			}
			return javaDouble(f, 64), nil
		}
	}
	return castNumber(i, f, isInt, typ), nil
}

// javaLong is Java's (long) of a double: truncated, saturated, NaN as 0.
func javaLong(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

func castNumber(i int64, f float64, isInt bool, typ string) any {
	if !isInt { // Java narrows a double to int first, then to byte or short
		i = javaLong(f)
		if typ != "int64" {
			i = int64(int32(max(min(i, math.MaxInt32), math.MinInt32)))
		}
	}
	switch typ {
	case "int8":
		return json.Number(strconv.Itoa(int(int8(i))))
	case "int16":
		return json.Number(strconv.Itoa(int(int16(i))))
	case "int32":
		return json.Number(strconv.Itoa(int(int32(i))))
	case "int64":
		return json.Number(strconv.FormatInt(i, 10))
	case "float32":
		return json.Number(javaDouble(float64(float32(f)), 32))
	case "float64":
		return json.Number(javaDouble(f, 64))
	case "boolean":
		return i != 0 || !isInt && f != 0
	}
	return nil
}

// castString parses a string as Java's Byte.parseByte, ..., Double.parseDouble and
// Boolean.parseBoolean do.
func castString(s, typ string) (any, error) {
	bits := map[string]int{"int8": 8, "int16": 16, "int32": 32, "int64": 64}
	switch typ {
	case "string":
		return s, nil
	case "boolean":
		return strings.EqualFold(s, "true"), nil
	case "float32", "float64":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), map[string]int{"float32": 32, "float64": 64}[typ])
		if err != nil {
			return nil, &dataError{fmt.Sprintf("Cast transformation cannot cast %q to %s", s, typ)}
		}
		return castNumber(0, f, false, typ), nil
	}
	n, err := strconv.ParseInt(s, 10, bits[typ])
	if err != nil {
		return nil, &dataError{fmt.Sprintf("Cast transformation cannot cast %q to %s", s, typ)}
	}
	return json.Number(strconv.FormatInt(n, 10)), nil
}
