package transform

import (
	"fmt"
	"time"
)

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is what transforms and predicates see of a Kafka record. Key and Value are the bytes
// after conversion (schemaless JSON; a key may also be plain text, read as a string); a nil
// Value is a tombstone. The key and value are parsed when a transform first reads them and
// written back by Finish when one changed them.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time // zero when the record has none
	Key       []byte
	Value     []byte
	Headers   []Header

	key, value               any
	keyParsed, valueParsed   bool
	keyChanged, valueChanged bool
}

// keyData returns the key as a JSON value: nil for no key, a string for a key that is not
// JSON.
func (r *Record) keyData() any {
	if !r.keyParsed {
		r.keyParsed = true
		if r.Key != nil {
			v, err := parseJSON(r.Key)
			if err != nil {
				v = string(r.Key)
			}
			r.key = v
		}
	}
	return r.key
}

// valueData returns the value as a JSON value; nil for a tombstone.
func (r *Record) valueData() (any, error) {
	if !r.valueParsed {
		if r.Value != nil {
			v, err := parseJSON(r.Value)
			if err != nil {
				return nil, fmt.Errorf("the value is not JSON: %w", err)
			}
			r.value = v
		}
		r.valueParsed = true
	}
	return r.value, nil
}

func (r *Record) setKey(v any) {
	r.key, r.keyParsed, r.keyChanged = v, true, true
}

func (r *Record) setValue(v any) {
	r.value, r.valueParsed, r.valueChanged = v, true, true
}

// data returns the key (key true) or the value.
func (r *Record) data(key bool) (any, error) {
	if key {
		return r.keyData(), nil
	}
	return r.valueData()
}

func (r *Record) set(key bool, v any) {
	if key {
		r.setKey(v)
	} else {
		r.setValue(v)
	}
}

// Finish writes a changed key and value back into Key and Value: a string key as its text,
// anything else as JSON; a null value is a tombstone.
func (r *Record) Finish() {
	if r.keyChanged {
		r.Key = bytesOf(r.key)
		r.keyChanged = false
	}
	if r.valueChanged {
		r.Value = nil
		if r.value != nil {
			r.Value = appendJSON(nil, r.value)
		}
		r.valueChanged = false
	}
}

// bytesOf is the bytes of a key or header value: a string's text, null as nil, else JSON.
func bytesOf(v any) []byte {
	switch t := v.(type) {
	case nil:
		return nil
	case string:
		return []byte(t)
	}
	return appendJSON(nil, v)
}

// objectData returns the key (key true) or the value as an object; nil without an error for
// a null one (no key, a tombstone), which transforms leave as it is.
func (r *Record) objectData(key bool, purpose string) (*Object, error) {
	v, err := r.data(key)
	if err != nil || v == nil {
		return nil, err
	}
	return object(v, purpose)
}

// convertWhole replaces the key or value by conv's result; a null one stays as it is.
func (r *Record) convertWhole(key bool, conv func(any) (any, error)) (bool, error) {
	v, err := r.data(key)
	if err != nil || v == nil {
		return true, err
	}
	out, err := conv(v)
	if err != nil {
		return false, err
	}
	r.set(key, out)
	return true, nil
}

// object returns v as an object, or the error Connect gives for a schemaless value that is
// not a map, naming the transform's purpose.
func object(v any, purpose string) (*Object, error) {
	if o, ok := v.(*Object); ok {
		return o, nil
	}
	return nil, fmt.Errorf("only objects are supported in absence of schema for [%s], found: %s", purpose, typeName(v))
}
