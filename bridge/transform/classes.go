package transform

// transformClasses are the transforms Apache Kafka ships (connect/transforms), by simple name.
var transformClasses = append(keyed(
	class{"InsertField", []string{"topic.field", "partition.field", "offset.field", "timestamp.field", "static.field", "static.value", "replace.null.with.default"}, newInsertField},
	class{"ReplaceField", []string{"exclude", "include", "blacklist", "whitelist", "renames", "replace.null.with.default"}, newReplaceField},
	class{"MaskField", []string{"fields", "replacement", "replace.null.with.default"}, newMaskField},
	class{"ExtractField", []string{"field", "field.syntax.version", "replace.null.with.default"}, newExtractField},
	class{"Flatten", []string{"delimiter"}, newFlatten},
	class{"Cast", []string{"spec", "replace.null.with.default"}, newCast},
	class{"TimestampConverter", []string{"field", "target.type", "format", "unix.precision", "replace.null.with.default"}, newTimestampConverter},
	class{"HoistField", []string{"field"}, newHoistField},
	class{"HeaderFrom", []string{"fields", "headers", "operation", "replace.null.with.default"}, newHeaderFrom},
),
	class{"ValueToKey", []string{"fields", "replace.null.with.default"}, newValueToKey},
	class{"RegexRouter", []string{"regex", "replacement"}, newRegexRouter},
	class{"TimestampRouter", []string{"topic.format", "timestamp.format"}, newTimestampRouter},
	class{"InsertHeader", []string{"header", "value.literal"}, newInsertHeader},
	class{"DropHeaders", []string{"headers"}, newDropHeaders},
	class{"Filter", nil, func(*conf) any { return filter{} }},
)

// predicateClasses are the predicates Apache Kafka ships.
var predicateClasses = []class{
	{"TopicNameMatches", []string{"pattern"}, newTopicNameMatches},
	{"HasHeaderKey", []string{"name"}, newHasHeaderKey},
	{"RecordIsTombstone", nil, func(*conf) any { return isTombstone{} }},
}

// keyed expands each class that works on a key or a value into its $Key and $Value classes;
// build receives which one through conf.key.
func keyed(classes ...class) []class {
	var out []class
	for _, c := range classes {
		for _, variant := range []string{"$Key", "$Value"} {
			isKey := variant == "$Key"
			build := c.build
			out = append(out, class{c.name + variant, c.keys, func(cf *conf) any {
				cf.key = isKey
				return build(cf)
			}})
		}
	}
	return out
}
