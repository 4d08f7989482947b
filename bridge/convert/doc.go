// Package convert turns the bytes of a Kafka record's key or value into what the mapping
// reads, as Kafka Connect's converters do: key.converter and value.converter name a class
// (StringConverter, ByteArrayConverter, JsonConverter, Confluent's AvroConverter,
// ProtobufConverter and JsonSchemaConverter) and their keys follow under the same prefix.
//
// Schema Registry converters read Confluent's wire format: a magic byte 0, the 4-byte
// big-endian schema id, for Protobuf the message indexes, then the encoded record. Schemas
// are fetched by id once and kept compiled; decoded records become JSON.
//
// Two kinds of failure are kept apart, because the consumer acts differently on them: a
// registry that does not answer is an *UnavailableError (transient: the caller waits and
// retries, nothing is dead-lettered); bytes that cannot be decoded (a wrong magic byte, a
// schema id the registry does not know, a truncated record) are any other error, which the
// caller treats as a bad record (errors.tolerance).
//
// Converters are safe for concurrent use. Convert returns a new slice the caller owns.
package convert
