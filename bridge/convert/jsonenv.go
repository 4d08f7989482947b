package convert

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/tidwall/gjson"
)

// connectLogical marks a schema that names one of Connect's logical types; payloads of other
// schemas are read as they are.
var connectLogical = []byte("org.apache.kafka.connect.data.")

// appendPayload appends a JsonConverter envelope's payload as the mapping reads it: Connect's
// logical types as Avro's are read (Decimal the exact number, Date, Time and Timestamp as
// text), a null with a default as the default, everything else as written.
func appendPayload(dst []byte, schema, payload gjson.Result) ([]byte, error) {
	if payload.Type == gjson.Null || !payload.Exists() {
		if def := schema.Get("default"); def.Exists() && def.Type != gjson.Null {
			return appendPayload(dst, schema, def)
		}
		return append(dst, "null"...), nil
	}
	switch schema.Get("name").String() {
	case "org.apache.kafka.connect.data.Decimal":
		if payload.Type == gjson.Number { // decimal.format=NUMERIC
			return append(dst, payload.Raw...), nil
		}
		b, err := base64.StdEncoding.DecodeString(payload.String())
		if err != nil {
			return dst, fmt.Errorf("decimal payload %s: %w", payload.Raw, err)
		}
		return appendDecimal(dst, b, int(schema.Get("parameters.scale").Int())), nil
	case "org.apache.kafka.connect.data.Date":
		return appendTime(dst, time.Unix(payload.Int()*86400, 0), "2006-01-02"), nil
	case "org.apache.kafka.connect.data.Time":
		return appendTime(dst, time.UnixMilli(payload.Int()), "15:04:05.000"), nil
	case "org.apache.kafka.connect.data.Timestamp":
		return appendTime(dst, time.UnixMilli(payload.Int()), "2006-01-02T15:04:05.000Z"), nil
	}
	var err error
	switch schema.Get("type").String() {
	case "struct":
		if !payload.IsObject() {
			break
		}
		fields := map[string]gjson.Result{}
		for _, f := range schema.Get("fields").Array() {
			fields[f.Get("field").String()] = f
		}
		return appendObject(dst, payload, func(key string) gjson.Result { return fields[key] })
	case "array":
		if !payload.IsArray() {
			break
		}
		items := schema.Get("items")
		dst = append(dst, '[')
		for i, v := range payload.Array() {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendPayload(dst, items, v); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case "map":
		if !payload.IsObject() { // non-string keys: [[key, value], ...] as written
			break
		}
		values := schema.Get("values")
		return appendObject(dst, payload, func(string) gjson.Result { return values })
	}
	return append(dst, payload.Raw...), nil
}

// appendObject appends the JSON object payload, each value through appendPayload with the
// schema schemaOf gives for its key.
func appendObject(dst []byte, payload gjson.Result, schemaOf func(key string) gjson.Result) ([]byte, error) {
	var err error
	dst = append(dst, '{')
	first := true
	payload.ForEach(func(k, v gjson.Result) bool {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(append(dst, k.Raw...), ':')
		dst, err = appendPayload(dst, schemaOf(k.String()), v)
		return err == nil
	})
	return append(dst, '}'), err
}

// hasLogical tells whether a schema names any of Connect's logical types.
func hasLogical(schema gjson.Result) bool { return bytes.Contains([]byte(schema.Raw), connectLogical) }
