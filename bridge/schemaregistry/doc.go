// Package schemaregistry is a Schema Registry for local use: the part of Confluent's Schema
// Registry REST API that producers, serializers and converters use (subjects, versions,
// schemas by id, lookups, compatibility checks and their configuration), so that `kbridge dev`
// works with Avro, Protobuf and JSON Schema clients without a JVM.
//
// Schemas get ids from 1 up; one schema text (of one type, with the same references) has one
// id in every subject, as in Confluent's registry. Compatibility is checked for Avro with the
// levels Confluent has (BACKWARD by default, NONE, FORWARD, FULL and their _TRANSITIVE forms);
// Protobuf and JSON schemas are checked to parse, and compatible otherwise.
//
// State lives in one JSON file in the data directory, replaced atomically after each change
// (written, synced, renamed, directory synced), and read back at start. Errors are answered
// with Confluent's codes and body: {"error_code": 40401, "message": "Subject not found."}.
package schemaregistry
