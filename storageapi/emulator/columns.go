package emulator

import (
	"slices"
	"strings"
)

// columnType is the type of one column of a typed table, as Storage (Snowflake backend)
// reports it in the table's definition: a native type, its length, nullability and default,
// and the base type. An untyped table's columns have none.
type columnType struct {
	Type     string `json:"type"`
	Length   string `json:"length,omitempty"`
	Nullable bool   `json:"nullable"`
	Default  string `json:"default,omitempty"`
	BaseType string `json:"basetype"`
}

// columnBody is one column of a tables-definition request: a base type, a native definition,
// both, or neither (an untyped column).
type columnBody struct {
	Name       string `json:"name"`
	BaseType   string `json:"basetype,omitempty"`
	Definition *struct {
		Type     string `json:"type"`
		Length   string `json:"length"`
		Nullable *bool  `json:"nullable"`
		Default  string `json:"default"`
	} `json:"definition,omitempty"`
}

// nativeTypes maps a base type to the Snowflake type and default length Storage gives it.
var nativeTypes = map[string]struct{ native, length string }{
	"STRING":    {"VARCHAR", "16777216"},
	"INTEGER":   {"NUMBER", "38,0"},
	"NUMERIC":   {"NUMBER", "38,9"},
	"FLOAT":     {"FLOAT", ""},
	"BOOLEAN":   {"BOOLEAN", ""},
	"DATE":      {"DATE", ""},
	"TIMESTAMP": {"TIMESTAMP_NTZ", "9"},
}

// baseTypes maps the native names a definition may use to a base type and Storage's name.
var baseTypes = map[string]struct{ base, native string }{
	"STRING": {"STRING", "VARCHAR"}, "VARCHAR": {"STRING", "VARCHAR"}, "TEXT": {"STRING", "VARCHAR"}, "CHAR": {"STRING", "VARCHAR"},
	"INT": {"INTEGER", "NUMBER"}, "INTEGER": {"INTEGER", "NUMBER"}, "BIGINT": {"INTEGER", "NUMBER"},
	"NUMBER": {"NUMERIC", "NUMBER"}, "NUMERIC": {"NUMERIC", "NUMBER"}, "DECIMAL": {"NUMERIC", "NUMBER"},
	"FLOAT": {"FLOAT", "FLOAT"}, "DOUBLE": {"FLOAT", "FLOAT"}, "REAL": {"FLOAT", "FLOAT"},
	"BOOLEAN": {"BOOLEAN", "BOOLEAN"}, "DATE": {"DATE", "DATE"},
	"TIMESTAMP": {"TIMESTAMP", "TIMESTAMP_NTZ"}, "TIMESTAMP_NTZ": {"TIMESTAMP", "TIMESTAMP_NTZ"}, "DATETIME": {"TIMESTAMP", "TIMESTAMP_NTZ"},
}

// typeOf resolves a requested column to its stored type; ok is false for an untyped column,
// err names an unknown type.
func typeOf(c columnBody, primaryKey bool) (columnType, bool, error) {
	if c.Definition == nil && c.BaseType == "" {
		return columnType{}, false, nil
	}
	var t columnType
	if d := c.Definition; d != nil {
		bt, ok := baseTypes[strings.ToUpper(d.Type)]
		if !ok {
			return t, false, errInvalid("Invalid type %q of the column %q", d.Type, c.Name)
		}
		t = columnType{Type: bt.native, Length: d.Length, Nullable: d.Nullable == nil || *d.Nullable, Default: d.Default, BaseType: bt.base}
		if t.Length == "" {
			t.Length = nativeTypes[bt.base].length
		}
		if t.Type == "NUMBER" && t.Length != "" && !strings.Contains(t.Length, ",") {
			t.Length += ",0" // Snowflake stores NUMBER(p) as NUMBER(p,0)
		}
	} else {
		nt, ok := nativeTypes[strings.ToUpper(c.BaseType)]
		if !ok {
			return t, false, errInvalid("Invalid basetype %q of the column %q", c.BaseType, c.Name)
		}
		t = columnType{Type: nt.native, Length: nt.length, Nullable: true, BaseType: strings.ToUpper(c.BaseType)}
	}
	if primaryKey {
		t.Nullable = false
	}
	return t, true, nil
}

// definitionJSON is a typed table's definition: the primary key and the columns sorted by
// name, as Storage lists them.
func definitionJSON(t *table) map[string]any {
	names := slices.Sorted(slices.Values(t.Columns))
	cols := make([]any, 0, len(names))
	for _, n := range names {
		ct := t.Types[n]
		def := map[string]any{"type": ct.Type, "nullable": ct.Nullable}
		if ct.Length != "" {
			def["length"] = ct.Length
		}
		if ct.Default != "" {
			def["default"] = ct.Default
		}
		cols = append(cols, map[string]any{"name": n, "definition": def, "basetype": ct.BaseType})
	}
	return map[string]any{"primaryKeysNames": nonNil(t.PrimaryKey), "columns": cols}
}
