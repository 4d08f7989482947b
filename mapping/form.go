package mapping

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Form data (application/x-www-form-urlencoded) becomes a JSON object the way Keboola's
// utils/url.ParseQuery builds it (keboola/keboola-as-code, internal/pkg/utils/url/url.go):
//
//   - "k=v" sets key k; a repeated key keeps its first position and its last value.
//   - "k[x]=v" and "k[0]=v" set nested objects and array elements ("k[2]=v" pads the array
//     with nulls); "k[]=v" appends to an array.
//   - A pair containing ';' is skipped, and fails the event unless a later pair is read
//     successfully (ParseQuery's error variable is overwritten by the next pair's unescaping).
//   - Keys and values are written as Go's json.Marshal writes strings.

// formObject is an object of form data: keys in order of first appearance.
type formObject struct {
	keys   []string
	values map[string]any // string, *formObject, *formArray or nil
}

type formArray struct{ items []any }

func newFormObject() *formObject { return &formObject{values: map[string]any{}} }

func (o *formObject) set(key string, v any) {
	if _, ok := o.values[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.values[key] = v
}

// appendFormJSON converts form data to a JSON object.
func appendFormJSON(dst []byte, form string) ([]byte, error) {
	root := newFormObject()
	var pending error // a skipped pair with ';', see above
	for form != "" {
		var pair string
		pair, form, _ = strings.Cut(form, "&")
		if strings.Contains(pair, ";") {
			pending = errorf(ErrInvalidBody, "invalid form data: invalid semicolon separator in %q", pair)
			continue
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return dst, errorf(ErrInvalidBody, "invalid form data: %v", err)
		}
		pending = nil
		value, err := url.QueryUnescape(v)
		if err != nil {
			return dst, errorf(ErrInvalidBody, "invalid form data: %v", err)
		}
		if err := root.add(key, value); err != nil {
			return dst, errorf(ErrInvalidBody, "invalid form data: key %q: %v", key, err)
		}
	}
	if pending != nil {
		return dst, pending
	}
	return appendFormValue(dst, root), nil
}

// add sets one key of form data: "a", "a[b][0]", "a[]".
func (o *formObject) add(key, value string) error {
	steps, appendTo, err := formKey(key)
	if err != nil {
		return err
	}
	if !appendTo {
		return o.setPath(steps, value)
	}
	switch existing, found := o.getPath(steps); {
	case !found:
		return o.setPath(steps, &formArray{items: []any{value}})
	default:
		arr, ok := existing.(*formArray)
		if !ok {
			return fmt.Errorf("[] appends to a value that is not an array")
		}
		arr.items = append(arr.items, value)
		return nil
	}
}

// formKey splits a form key at '[' as Keboola's parseKey does: the first piece is a key, every
// other must end with ']' and is an index when it parses as an integer, a key otherwise; a
// final "[]" appends.
func formKey(key string) (steps []pathStep, appendTo bool, err error) {
	pieces := strings.FieldsFunc(key, func(r rune) bool { return r == '[' })
	for i, piece := range pieces {
		if i == 0 {
			steps = append(steps, pathStep{key: piece, index: -1})
			continue
		}
		if piece[len(piece)-1] != ']' {
			return nil, false, fmt.Errorf("unable to parse the key")
		}
		piece = piece[:len(piece)-1]
		if piece == "" {
			if i != len(pieces)-1 {
				return nil, false, fmt.Errorf("unable to parse the key")
			}
			return steps, true, nil
		}
		if n, err := strconv.Atoi(piece); err == nil {
			if n < 0 {
				return nil, false, fmt.Errorf("array index %d is negative", n)
			}
			steps = append(steps, pathStep{key: piece, index: n})
		} else {
			steps = append(steps, pathStep{key: piece, index: -1})
		}
	}
	if len(steps) == 0 {
		return nil, false, fmt.Errorf("the key is empty")
	}
	return steps, false, nil
}

// getPath returns the value at steps; found is false when a step is missing. A step into a
// value of the wrong kind counts as found with no value, as orderedmap.GetNestedPath reports.
func (o *formObject) getPath(steps []pathStep) (v any, found bool) {
	var cur any = o
	for _, s := range steps {
		switch c := cur.(type) {
		case *formObject:
			if s.index >= 0 {
				return nil, true
			}
			if cur, found = c.values[s.key]; !found {
				return nil, false
			}
		case *formArray:
			if s.index < 0 {
				return nil, true
			}
			if s.index >= len(c.items) {
				return nil, false
			}
			cur = c.items[s.index]
		default:
			return nil, true
		}
	}
	return cur, true
}

// setPath sets the value at steps, creating objects and arrays on the way as the next step
// asks, as orderedmap.SetNestedPath does.
func (o *formObject) setPath(steps []pathStep, value any) error {
	var cur any = o
	for i, s := range steps {
		v := value
		if i < len(steps)-1 {
			v = newFormObject()
			if steps[i+1].index >= 0 {
				v = &formArray{}
			}
		}
		last := i == len(steps)-1
		switch c := cur.(type) {
		case *formObject:
			if s.index >= 0 {
				return fmt.Errorf("[%s] indexes an object", s.key)
			}
			if old, ok := c.values[s.key]; ok && !last {
				cur = old
				continue
			}
			c.set(s.key, v)
		case *formArray:
			if s.index < 0 {
				return fmt.Errorf("[%s] names a key in an array", s.key)
			}
			if s.index < len(c.items) && !last {
				cur = c.items[s.index]
				continue
			}
			if s.index >= len(c.items) {
				if s.index > maxFormIndex {
					return fmt.Errorf("array index %d is over %d", s.index, maxFormIndex)
				}
				c.items = append(c.items, make([]any, s.index+1-len(c.items))...)
			}
			c.items[s.index] = v
		default:
			return fmt.Errorf("%q is a string, not an object or array", steps[i-1].key)
		}
		cur = v
	}
	return nil
}

// maxFormIndex bounds the nulls a form key such as "a[99999999]" may create.
const maxFormIndex = 10000

func appendFormValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendMarshalledString(dst, v)
	case *formObject:
		dst = append(dst, '{')
		for i, k := range v.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendMarshalledString(dst, k)
			dst = append(dst, ':')
			dst = appendFormValue(dst, v.values[k])
		}
		return append(dst, '}')
	case *formArray:
		dst = append(dst, '[')
		for i, item := range v.items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendFormValue(dst, item)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}
