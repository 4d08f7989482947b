package transform

import (
	"encoding/json"
	"strconv"
	"strings"
)

// insertField is InsertField: the record's topic, partition, offset, timestamp and a static
// value as fields of the key or value. A field name may end in ! (required) or ? (optional),
// which only matters with schemas.
type insertField struct {
	key                                      bool
	topic, partition, offset, timestamp, sfd string
	staticValue                              string
}

func newInsertField(c *conf) any {
	name := func(key string) string { return strings.TrimRight(c.str(key, ""), "!?") }
	t := &insertField{key: c.key, topic: name("topic.field"), partition: name("partition.field"),
		offset: name("offset.field"), timestamp: name("timestamp.field"), sfd: name("static.field"),
		staticValue: c.str("static.value", "")}
	c.replaceNullWithDefault()
	return t
}

func (t *insertField) apply(r *Record) (bool, error) {
	o, err := r.objectData(t.key, "field insertion")
	if o == nil {
		return err == nil, err // a null key or value stays as it is
	}
	if t.topic != "" {
		o.Put(t.topic, r.Topic)
	}
	if t.partition != "" {
		o.Put(t.partition, json.Number(strconv.Itoa(int(r.Partition))))
	}
	if t.offset != "" {
		o.Put(t.offset, json.Number(strconv.FormatInt(r.Offset, 10)))
	}
	if t.timestamp != "" && !r.Timestamp.IsZero() {
		o.Put(t.timestamp, json.Number(strconv.FormatInt(r.Timestamp.UnixMilli(), 10)))
	}
	if t.sfd != "" {
		o.Put(t.sfd, t.staticValue)
	}
	r.set(t.key, o)
	return true, nil
}

// replaceField is ReplaceField: keep only included fields, drop excluded ones, rename.
type replaceField struct {
	key              bool
	include, exclude []string
	renames          map[string]string
}

func newReplaceField(c *conf) any {
	t := &replaceField{key: c.key, renames: map[string]string{}}
	t.exclude = append(c.list("exclude"), c.list("blacklist")...) // Kafka's older names
	t.include = append(c.list("include"), c.list("whitelist")...)
	for _, pair := range c.list("renames") {
		from, to, ok := strings.Cut(pair, ":")
		if !ok || from == "" || to == "" {
			c.fail("renames", "invalid rename mapping: %s", pair)
			continue
		}
		t.renames[from] = to
	}
	c.replaceNullWithDefault()
	return t
}

func (t *replaceField) apply(r *Record) (bool, error) {
	o, err := r.objectData(t.key, "field replacement")
	if o == nil {
		return err == nil, err // a null key or value stays as it is
	}
	out := &Object{Members: make([]Member, 0, len(o.Members))}
	for _, m := range o.Members {
		if !t.keeps(m.Name) {
			continue
		}
		if to, ok := t.renames[m.Name]; ok {
			m.Name = to
		}
		out.Put(m.Name, m.Value)
	}
	r.set(t.key, out)
	return true, nil
}

func (t *replaceField) keeps(name string) bool {
	for _, e := range t.exclude {
		if e == name {
			return false
		}
	}
	if len(t.include) == 0 {
		return true
	}
	for _, i := range t.include {
		if i == name {
			return true
		}
	}
	return false
}

// valueToKey is ValueToKey: the key becomes an object of the given fields of the value.
type valueToKey struct{ fields []string }

func newValueToKey(c *conf) any {
	t := &valueToKey{fields: c.requiredList("fields")}
	c.replaceNullWithDefault()
	return t
}

func (t *valueToKey) apply(r *Record) (bool, error) {
	v, err := r.valueData()
	if err != nil {
		return false, err
	}
	o, err := object(v, "copying fields from value to key")
	if err != nil {
		return false, err
	}
	key := &Object{Members: make([]Member, 0, len(t.fields))}
	for _, f := range t.fields {
		fv, _ := o.Get(f)
		key.Put(f, fv)
	}
	r.setKey(key)
	return true, nil
}

// extractField is ExtractField: the key or value becomes one of its fields; a missing field
// gives null. With field.syntax.version V2, a dotted name is a path into nested objects.
type extractField struct {
	key  bool
	path []string
}

func newExtractField(c *conf) any {
	field := c.required("field")
	t := &extractField{key: c.key, path: []string{field}}
	if c.oneOf("field.syntax.version", "V1", "V1", "V2") == "V2" {
		t.path = strings.Split(field, ".")
	}
	c.replaceNullWithDefault()
	return t
}

func (t *extractField) apply(r *Record) (bool, error) {
	v, err := r.data(t.key)
	if err != nil || v == nil {
		return true, err
	}
	for _, name := range t.path {
		o, err := object(v, "field extraction")
		if err != nil {
			return false, err
		}
		if v, _ = o.Get(name); v == nil {
			break
		}
	}
	r.set(t.key, v)
	return true, nil
}

// hoistField is HoistField: the key or value is wrapped in an object as its one field.
type hoistField struct {
	key   bool
	field string
}

func newHoistField(c *conf) any { return &hoistField{key: c.key, field: c.required("field")} }

func (t *hoistField) apply(r *Record) (bool, error) {
	v, err := r.data(t.key)
	if err != nil {
		return false, err
	}
	r.set(t.key, &Object{Members: []Member{{t.field, v}}})
	return true, nil
}

// flatten is Flatten: nested objects become top-level fields named by their path, joined by
// the delimiter.
type flatten struct {
	key       bool
	delimiter string
}

func newFlatten(c *conf) any { return &flatten{key: c.key, delimiter: c.str("delimiter", ".")} }

func (t *flatten) apply(r *Record) (bool, error) {
	o, err := r.objectData(t.key, "flattening")
	if o == nil {
		return err == nil, err // a null key or value stays as it is
	}
	out := &Object{}
	if err := t.into(out, o, ""); err != nil {
		return false, err
	}
	r.set(t.key, out)
	return true, nil
}

func (t *flatten) into(out, o *Object, prefix string) error {
	for _, m := range o.Members {
		name := m.Name
		if prefix != "" {
			name = prefix + t.delimiter + m.Name
		}
		switch v := m.Value.(type) {
		case *Object:
			if err := t.into(out, v, name); err != nil {
				return err
			}
		case []any:
			return &dataError{"Flatten transformation does not support ARRAY for record without schemas (for field " + name + ")."}
		default:
			out.Put(name, v)
		}
	}
	return nil
}

// dataError is a record the transform cannot handle, in Connect's words.
type dataError struct{ msg string }

func (e *dataError) Error() string { return e.msg }
