package transform

import "fmt"

// insertHeader is InsertHeader: a header with a literal value added to every record.
type insertHeader struct {
	header string
	value  []byte
}

func newInsertHeader(c *conf) any {
	h := &insertHeader{header: c.required("header")}
	if _, ok := c.p.get(c.prefix + "value.literal"); !ok {
		c.fail("value.literal", "missing")
	}
	h.value = []byte(c.str("value.literal", ""))
	return h
}

func (t *insertHeader) apply(r *Record) (bool, error) {
	r.Headers = append(r.Headers, Header{Key: t.header, Value: t.value})
	return true, nil
}

// dropHeaders is DropHeaders: every header with one of the names removed.
type dropHeaders struct{ names []string }

func newDropHeaders(c *conf) any { return &dropHeaders{names: c.requiredList("headers")} }

func (t *dropHeaders) apply(r *Record) (bool, error) {
	kept := r.Headers[:0:0]
	for _, h := range r.Headers {
		if !contains(t.names, h.Key) {
			kept = append(kept, h)
		}
	}
	r.Headers = kept
	return true, nil
}

// headerFrom is HeaderFrom: fields of the key or value copied or moved into headers. A string
// field becomes its text, anything else its JSON.
type headerFrom struct {
	key             bool
	fields, headers []string
	move            bool
}

func newHeaderFrom(c *conf) any {
	t := &headerFrom{key: c.key, fields: c.requiredList("fields"), headers: c.requiredList("headers")}
	if len(t.fields) != len(t.headers) {
		c.fail("fields", "'fields' config must have the same number of elements as 'headers' config.")
	}
	if c.str("operation", "") == "" {
		c.fail("operation", "missing: move or copy")
	} else {
		t.move = c.oneOf("operation", "", "move", "copy") == "move"
	}
	c.replaceNullWithDefault()
	return t
}

func (t *headerFrom) apply(r *Record) (bool, error) {
	o, err := r.objectData(t.key, fmt.Sprintf("header %s", map[bool]string{true: "move", false: "copy"}[t.move]))
	if o == nil {
		return err == nil, err // a null key or value stays as it is
	}
	headers := append([]Header(nil), r.Headers...)
	for i, f := range t.fields {
		fv, _ := o.Get(f)
		headers = append(headers, Header{Key: t.headers[i], Value: bytesOf(fv)})
	}
	r.Headers = headers
	if t.move {
		for _, f := range t.fields {
			o.Remove(f)
		}
		r.set(t.key, o)
	}
	return true, nil
}
