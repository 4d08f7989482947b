package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Kind is a column type as Keboola's sink mapping JSON names it.
type Kind string

const (
	KindUUID           Kind = "uuid" // "id" is accepted as an alias
	KindDatetime       Kind = "datetime"
	KindIP             Kind = "ip"
	KindBody           Kind = "body"
	KindHeaders        Kind = "headers"
	KindPath           Kind = "path" // "json" is accepted as an alias
	KindTemplate       Kind = "template"
	KindKafkaTopic     Kind = "kafka.topic"
	KindKafkaPartition Kind = "kafka.partition"
	KindKafkaOffset    Kind = "kafka.offset"
	KindKafkaKey       Kind = "kafka.key"
	KindKafkaTimestamp Kind = "kafka.timestamp"
	KindKafkaHeaders   Kind = "kafka.headers"
)

// kinds lists every accepted type name, for error messages.
var kinds = []Kind{KindUUID, "id", KindDatetime, KindIP, KindBody, KindHeaders, KindPath, "json", KindTemplate,
	KindKafkaTopic, KindKafkaPartition, KindKafkaOffset, KindKafkaKey, KindKafkaTimestamp, KindKafkaHeaders}

// MaxColumns is the largest column list a mapping may have, as in Keboola.
const MaxColumns = 100

// Column is one column definition in Keboola's sink mapping JSON.
type Column struct {
	Type         Kind      `json:"type" yaml:"type"`
	Name         string    `json:"name" yaml:"name"`
	Path         string    `json:"path,omitempty" yaml:"path,omitempty"`
	DefaultValue *string   `json:"defaultValue,omitempty" yaml:"defaultValue,omitempty"`
	RawString    bool      `json:"rawString,omitempty" yaml:"rawString,omitempty"`
	Template     *Template `json:"template,omitempty" yaml:"template,omitempty"`
	PrimaryKey   bool      `json:"primaryKey,omitempty" yaml:"primaryKey,omitempty"`
}

// Template is a template column's program.
type Template struct {
	Language string `json:"language" yaml:"language"`
	Content  string `json:"content" yaml:"content"`
}

// DecodeColumns reads a column list from JSON: either a bare array or Keboola's
// {"columns": [...]} mapping object. Unknown fields are an error naming the field.
func DecodeColumns(data []byte) ([]Column, error) {
	trimmed := bytes.TrimSpace(data)
	var columns []Column
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var m struct {
			Columns []Column `json:"columns" yaml:"columns"`
		}
		if err := strictUnmarshal(trimmed, &m); err != nil {
			return nil, err
		}
		columns = m.Columns
	} else if err := strictUnmarshal(trimmed, &columns); err != nil {
		return nil, err
	}
	return columns, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode columns: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("decode columns: unexpected data after the column list")
	}
	return nil
}

// validate checks one definition on its own; Compile checks the list as a whole.
func (c *Column) validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return fmt.Errorf("name is empty")
	}
	kind := c.kind()
	known := false
	for _, k := range kinds {
		known = known || k == c.Type
	}
	if !known {
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = string(k)
		}
		return fmt.Errorf("unknown type %q, expected one of: %s", c.Type, strings.Join(names, ", "))
	}
	if kind != KindPath && (c.Path != "" || c.DefaultValue != nil) {
		return fmt.Errorf("path and defaultValue apply only to path columns")
	}
	if kind != KindPath && kind != KindTemplate && c.RawString {
		return fmt.Errorf("rawString applies only to path and template columns")
	}
	if kind == KindTemplate {
		if c.Template == nil {
			return fmt.Errorf("template is missing")
		}
		if c.Template.Language != "jsonnet" {
			return fmt.Errorf(`unsupported language %q, only "jsonnet" is supported`, c.Template.Language)
		}
		if n := len(c.Template.Content); n == 0 || n > 4096 {
			return fmt.Errorf("template content must have 1 to 4096 characters, has %d", n)
		}
	} else if c.Template != nil {
		return fmt.Errorf("template applies only to template columns")
	}
	return nil
}

// kind resolves aliases: Keboola's documentation names the uuid column "id" and shows a path
// column as "json" (its examples predate the renames); the service's code knows only "uuid" and
// "path", and kbridge takes both spellings.
func (c *Column) kind() Kind {
	switch c.Type {
	case "id":
		return KindUUID
	case "json":
		return KindPath
	}
	return c.Type
}
