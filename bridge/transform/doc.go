// Package transform runs Kafka Connect's single message transforms and predicates on records
// whose key and value are schemaless JSON (what the converters produce), configured with
// Connect's keys: transforms, transforms.<alias>.type, .predicate, .negate, predicates,
// predicates.<alias>.type and each class's own keys.
//
// A record's key and value are parsed only when a transform reads them, into ordered objects
// that keep the order of their members, and written back only when a transform changed them:
// a chain of routers and header transforms never touches the value's bytes. A pipeline without
// transforms has no chain at all (Parse returns nil), so its records pay nothing.
//
// Values follow Connect's schemaless semantics (maps, lists, strings, numbers, booleans and
// null). Where Java objects have no JSON form (a java.util.Date), the JSON a schema'd
// JsonConverter writes is used: a timestamp is epoch milliseconds.
package transform
