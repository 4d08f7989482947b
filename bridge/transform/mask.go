package transform

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// maskField is MaskField: fields replaced by their type's empty value (false, 0, "", [], {})
// or by a replacement given as text. A field the record does not have is set to null, as
// Kafka's MaskField does.
type maskField struct {
	key         bool
	fields      []string
	replacement *string
}

func newMaskField(c *conf) any {
	t := &maskField{key: c.key, fields: c.requiredList("fields")}
	if v, ok := c.p.get(c.prefix + "replacement"); ok {
		if v == "" {
			c.fail("replacement", "must be a non-empty string")
		}
		t.replacement = &v
	}
	c.replaceNullWithDefault()
	return t
}

func (t *maskField) apply(r *Record) (bool, error) {
	o, err := r.objectData(t.key, "mask fields")
	if o == nil {
		return err == nil, err // a null key or value stays as it is
	}
	for _, f := range t.fields {
		fv, _ := o.Get(f)
		masked, err := t.mask(fv)
		if err != nil {
			return false, err
		}
		o.Put(f, masked)
	}
	r.set(t.key, o)
	return true, nil
}

func (t *maskField) mask(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t.replacement == nil {
		switch n := v.(type) {
		case bool:
			return false, nil
		case json.Number:
			if integral(n) {
				return json.Number("0"), nil
			}
			return json.Number("0.0"), nil
		case string:
			return "", nil
		case []any:
			return []any{}, nil
		}
		return &Object{}, nil
	}
	repl := *t.replacement
	switch n := v.(type) {
	case string:
		return repl, nil
	case json.Number:
		if integral(n) {
			if _, err := strconv.ParseInt(repl, 10, 64); err != nil {
				return nil, &dataError{fmt.Sprintf("Invalid value %s for configuration replacement: cannot mask a long", repl)}
			}
			return json.Number(repl), nil
		}
		f, err := strconv.ParseFloat(repl, 64)
		if err != nil {
			return nil, &dataError{fmt.Sprintf("Invalid value %s for configuration replacement: cannot mask a double", repl)}
		}
		return json.Number(javaDouble(f, 64)), nil
	}
	return nil, &dataError{"Cannot mask value of type " + typeName(v) + " with custom replacement."}
}
