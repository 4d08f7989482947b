// Package strict finds the keys of a configuration that nothing reads: a misspelled key is an
// error naming its path, with the nearest known key suggested, never a silently ignored setting.
package strict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// UnknownKeyError is a key that no part of the configuration reads.
type UnknownKeyError struct {
	Path    string // the key's full path, e.g. pipelines[0].topicz
	Nearest string // the known key it most likely means; "" when none is close
}

func (e *UnknownKeyError) Error() string {
	if e.Nearest == "" {
		return e.Path + ": unknown key"
	}
	return fmt.Sprintf("%s: unknown key; did you mean %q?", e.Path, e.Nearest)
}

// Unknown returns the error of an unknown key at path whose last element is key, suggesting
// the nearest of known.
func Unknown(path, key string, known []string) *UnknownKeyError {
	return &UnknownKeyError{Path: path, Nearest: Nearest(key, known)}
}

// Nearest returns the element of known closest to word in edit distance (case folded), when
// it is close enough to be a plausible misspelling: at most a third of the word's length, and
// at least 2 edits are always allowed. Ties go to the earlier element.
func Nearest(word string, known []string) string {
	best, bestDist := "", max(2, len(word)/3)+1
	lw := strings.ToLower(word)
	for _, k := range known {
		if d := distance(lw, strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b, by bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// YAML returns an error for every mapping key of doc that the struct fields of t (by their
// yaml tags) do not name, each with its path. Maps are free-form and not looked into beyond
// their values; the caller checks the keys of a map that has its own vocabulary.
func YAML(doc *yaml.Node, t reflect.Type) []error {
	var errs []error
	walk(doc, t, "", &errs)
	return errs
}

func walk(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walk(c, t, path, errs)
		}
	case yaml.AliasNode:
		walk(n.Alias, t, path, errs)
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, c := range n.Content {
				walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs)
			}
		}
	case yaml.MappingNode:
		switch {
		case t.Kind() == reflect.Map:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), errs)
			}
		case t.Kind() == reflect.Struct:
			fields := tagFields(t, "yaml")
			names := make([]string, 0, len(fields))
			for _, f := range fields {
				names = append(names, f.name)
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				f, ok := lookup(fields, key)
				if !ok {
					*errs = append(*errs, Unknown(join(path, key), key, names))
					continue
				}
				walk(n.Content[i+1], f.typ, join(path, key), errs)
			}
		}
	}
}

// JSON is YAML for a JSON document, the fields named by their json tags. A document that is
// not JSON is no error here: decoding it tells why.
func JSON(data []byte, t reflect.Type) []error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil
	}
	var errs []error
	walkJSON(v, t, "", &errs)
	return errs
}

func walkJSON(v any, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n := v.(type) {
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, c := range n {
				walkJSON(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs)
			}
		}
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return
		}
		fields := tagFields(t, "json")
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			names = append(names, f.name)
		}
		for _, key := range slices.Sorted(maps.Keys(n)) {
			if f, ok := lookup(fields, key); ok {
				walkJSON(n[key], f.typ, join(path, key), errs)
			} else {
				*errs = append(*errs, Unknown(join(path, key), key, names))
			}
		}
	}
}

type field struct {
	name string
	typ  reflect.Type
}

// tagFields lists the keys yaml.v3 (tag "yaml") or encoding/json (tag "json") reads into t:
// exported fields by their tag, else by their name (lower-cased by yaml), inlined or embedded
// structs flattened. JSON's matching of keys in any case is not followed: a key must be
// written as its field's tag says.
func tagFields(t reflect.Type, tagName string) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get(tagName), ",")
		switch {
		case tag[0] == "-":
		case f.Type.Kind() == reflect.Struct && (len(tag) > 1 && tag[1] == "inline" || tagName == "json" && f.Anonymous && tag[0] == ""):
			out = append(out, tagFields(f.Type, tagName)...)
		case tag[0] != "":
			out = append(out, field{tag[0], f.Type})
		case tagName == "yaml":
			out = append(out, field{strings.ToLower(f.Name), f.Type})
		default:
			out = append(out, field{f.Name, f.Type})
		}
	}
	return out
}

func lookup(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	return field{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
