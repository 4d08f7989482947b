package convert

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/kbridge/kbridge/bridge/strict"
)

// Converter turns the bytes of a record's key or value into what the mapping reads. It is safe
// for concurrent use; the returned slice may be data itself, which the caller then owns no
// more than it owned data. A nil data (a tombstone) is never passed.
type Converter interface {
	Convert(ctx context.Context, data []byte) ([]byte, error)
}

// Appender is a Converter that can append what it converts to dst, returning the extended
// slice, so that a caller converting many records reuses one buffer. It must not keep dst.
type Appender interface {
	AppendConvert(ctx context.Context, dst, data []byte) ([]byte, error)
}

// Connect's converter classes.
const (
	StringConverter       = "org.apache.kafka.connect.storage.StringConverter"
	ByteArrayConverter    = "org.apache.kafka.connect.converters.ByteArrayConverter"
	JSONConverter         = "org.apache.kafka.connect.json.JsonConverter"
	AvroConverter         = "io.confluent.connect.avro.AvroConverter"
	ProtobufConverter     = "io.confluent.connect.protobuf.ProtobufConverter"
	JSONSchemaConverter   = "io.confluent.connect.json.JsonSchemaConverter"
	SimpleHeaderConverter = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
)

// Classes lists the converter classes kbridge runs, for the Connect plugin list.
func Classes() []string {
	return []string{AvroConverter, JSONSchemaConverter, ProtobufConverter, ByteArrayConverter,
		JSONConverter, SimpleHeaderConverter, StringConverter}
}

// classKeys are the keys each class reads under its prefix, beside the registry's (which the
// three registry classes read, see registryKeys).
var classKeys = map[string][]string{
	StringConverter:     {"encoding"},
	ByteArrayConverter:  nil,
	JSONConverter:       {"schemas.enable", "schemas.cache.size", "decimal.format", "replace.null.with.default"},
	AvroConverter:       nil,
	ProtobufConverter:   nil,
	JSONSchemaConverter: nil,
}

// Parse reads the converter named by keys[prefix] ("key.converter" or "value.converter") and
// its keys under prefix+".". It returns nil when prefix is not set (the record's bytes are
// read as they are), the keys it read, and one error per bad key, each starting with the key.
func Parse(keys map[string]string, prefix string) (Converter, []string, []error) {
	p := parser{keys: keys, prefix: prefix + ".", used: map[string]bool{prefix: true}}
	class, ok := keys[prefix]
	class = strings.TrimSpace(class)
	if !ok || class == "" {
		return nil, []string{prefix}, nil
	}
	var c Converter
	switch class {
	case StringConverter:
		if enc := strings.ToUpper(strings.ReplaceAll(p.get("encoding"), "-", "")); enc != "" && enc != "UTF8" {
			p.fail("encoding", "only UTF-8 is supported, got %q", p.get("encoding"))
		}
		c = identity{}
	case ByteArrayConverter:
		c = identity{}
	case JSONConverter:
		c = p.json()
	case AvroConverter, ProtobufConverter, JSONSchemaConverter:
		c = p.registryConverter(class)
	default:
		p.errs = append(p.errs, fmt.Errorf("%s: unknown converter class %q; kbridge runs %s", prefix, class,
			strings.Join(slices.DeleteFunc(Classes(), func(c string) bool { return c == SimpleHeaderConverter }), ", ")))
		return nil, []string{prefix}, p.errs
	}
	p.unknown(class)
	if len(p.errs) > 0 {
		c = nil
	}
	return c, slices.Sorted(maps.Keys(p.used)), p.errs
}

// Keys lists every key a converter under prefix may have, for suggesting the key a misspelled
// one means.
func Keys(prefix string) []string {
	seen := map[string]bool{prefix: true}
	for _, keys := range [][]string{registryKeys, ignoredRegistryKeys} {
		for _, k := range keys {
			seen[prefix+"."+k] = true
		}
	}
	for _, keys := range classKeys {
		for _, k := range keys {
			seen[prefix+"."+k] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// CheckHeaderConverter checks header.converter: record headers are kept as their bytes, which
// is what the classes it accepts do with them.
func CheckHeaderConverter(keys map[string]string) []error {
	class := strings.TrimSpace(keys["header.converter"])
	switch class {
	case "", SimpleHeaderConverter, StringConverter, ByteArrayConverter:
		return nil
	}
	return []error{fmt.Errorf("header.converter: unsupported class %q; record headers are read as bytes (%s, %s or %s)",
		class, SimpleHeaderConverter, StringConverter, ByteArrayConverter)}
}

// identity is StringConverter and ByteArrayConverter: the bytes are what the mapping reads
// (a string's UTF-8, or the bytes; a JSON text in them is still read as JSON by path columns).
type identity struct{}

func (identity) Convert(_ context.Context, b []byte) ([]byte, error) { return b, nil }

// jsonConverter is Connect's JsonConverter; with schemas.enable (Connect's default) every
// record is an envelope {"schema": ..., "payload": ...} and the payload is what is read.
type jsonConverter struct{ envelope bool }

func (p *parser) json() Converter {
	c := jsonConverter{envelope: true}
	if v := p.get("schemas.enable"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.fail("schemas.enable", "must be true or false, got %q", v)
		}
		c.envelope = b
	}
	if v := strings.ToUpper(p.get("decimal.format")); v != "" && v != "BASE64" && v != "NUMERIC" {
		p.fail("decimal.format", "must be BASE64 or NUMERIC, got %q", p.get("decimal.format"))
	}
	return c
}

var errNotEnvelope = errors.New(`JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields; ` +
	`for plain JSON set schemas.enable=false`)

func (c jsonConverter) Convert(_ context.Context, b []byte) ([]byte, error) {
	if !gjson.ValidBytes(b) {
		return nil, errors.New("converting byte[] to Kafka Connect data failed due to serialization error: not JSON")
	}
	if !c.envelope {
		return b, nil
	}
	v := gjson.ParseBytes(b)
	if !v.IsObject() {
		return nil, errNotEnvelope
	}
	n, payload, schema := 0, gjson.Result{}, gjson.Result{}
	v.ForEach(func(k, val gjson.Result) bool {
		n++
		switch k.String() {
		case "payload":
			payload = val
		case "schema":
			schema = val
		}
		return true
	})
	if n != 2 || !schema.Exists() || !payload.Exists() {
		return nil, errNotEnvelope
	}
	if hasLogical(schema) {
		return appendPayload(make([]byte, 0, len(payload.Raw)+16), schema, payload)
	}
	if payload.Index > 0 { // the payload's own bytes, no copy
		return b[payload.Index : payload.Index+len(payload.Raw)], nil
	}
	return []byte(payload.Raw), nil
}

// parser reads the keys under a converter's prefix.
type parser struct {
	keys   map[string]string
	prefix string
	used   map[string]bool
	errs   []error
}

func (p *parser) get(key string) string {
	p.used[p.prefix+key] = true
	return strings.TrimSpace(p.keys[p.prefix+key])
}

func (p *parser) has(key string) bool {
	_, ok := p.keys[p.prefix+key]
	return ok
}

func (p *parser) fail(key, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s%s: %s", p.prefix, key, fmt.Sprintf(format, args...)))
}

// unknown fails each key under the prefix that class does not read.
func (p *parser) unknown(class string) {
	known := classKeys[class]
	if class == AvroConverter || class == ProtobufConverter || class == JSONSchemaConverter {
		known = append(slices.Clone(known), registryKeys...)
		known = append(known, ignoredRegistryKeys...)
	}
	for _, key := range slices.Sorted(maps.Keys(p.keys)) {
		sub, ok := strings.CutPrefix(key, p.prefix)
		if !ok {
			continue
		}
		if slices.Contains(known, sub) {
			p.used[key] = true
			continue
		}
		short := class[strings.LastIndexByte(class, '.')+1:]
		p.used[key] = true
		if near := strict.Nearest(sub, known); near != "" {
			p.fail(sub, "unknown key for %s; did you mean %q?", short, p.prefix+near)
		} else {
			p.fail(sub, "unknown key for %s", short)
		}
	}
}
