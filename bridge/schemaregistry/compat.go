package schemaregistry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/kbridge/kbridge/bridge/convert"
)

// levels are Confluent's compatibility levels.
var levels = []string{"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"}

// check parses a schema of its type with its references' texts; the error says why it is invalid.
func check(typ, text string, refs []string, refNames []string) error {
	switch typ {
	case "AVRO":
		_, err := parseAvro(text, refs)
		return err
	case "PROTOBUF":
		imports := make([]convert.ProtoSource, len(refs))
		for i, name := range refNames {
			imports[i] = convert.ProtoSource{Name: name, Text: refs[i]}
		}
		return convert.CompileProtobuf(context.Background(), text, imports)
	case "JSON":
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return err
		}
		switch v.(type) {
		case map[string]any, bool:
			return nil
		}
		return fmt.Errorf("a JSON schema is an object or a boolean")
	}
	return fmt.Errorf("unknown schema type %q", typ)
}

func parseAvro(text string, refs []string) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	for _, ref := range refs {
		if _, err := avro.ParseWithCache(ref, "", cache); err != nil {
			return nil, err
		}
	}
	return avro.ParseWithCache(text, "", cache)
}

// compatible checks a new schema against earlier ones (oldest first) at level; it returns the
// reasons it is not compatible, none when it is. Only Avro schemas are compared.
func compatible(level, typ, text string, refs []string, earlier []string, earlierRefs [][]string) []string {
	if typ != "AVRO" || level == "NONE" || len(earlier) == 0 {
		return nil
	}
	if !strings.HasSuffix(level, "_TRANSITIVE") {
		earlier, earlierRefs = earlier[len(earlier)-1:], earlierRefs[len(earlierRefs)-1:]
	}
	next, err := parseAvro(text, refs)
	if err != nil {
		return []string{err.Error()}
	}
	base := strings.TrimSuffix(level, "_TRANSITIVE")
	var reasons []string
	for i, old := range earlier {
		prev, err := parseAvro(old, earlierRefs[i])
		if err != nil {
			return []string{err.Error()}
		}
		c := avro.NewSchemaCompatibility()
		if slices.Contains([]string{"BACKWARD", "FULL"}, base) {
			if err := c.Compatible(next, prev); err != nil {
				reasons = append(reasons, fmt.Sprintf("the new schema cannot read data written with an earlier one (%s): %v", base, err))
			}
		}
		if slices.Contains([]string{"FORWARD", "FULL"}, base) {
			if err := c.Compatible(prev, next); err != nil {
				reasons = append(reasons, fmt.Sprintf("an earlier schema cannot read data written with the new one (%s): %v", base, err))
			}
		}
	}
	return reasons
}
