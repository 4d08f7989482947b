// Package connect serves the Kafka Connect REST API (the worker's :8083) over kbridge's Kafka
// pipelines: a connector is a pipeline, its tasks are the pipeline's consumer group members.
//
// Connector configs are Kafka Connect keys. kbridge's own sink class and the Confluent and
// Aiven HTTP sink classes are accepted; an HTTP sink whose URL is a Keboola Data Streams
// intake URL is translated into the pipeline of that source (translate.go).
//
// Invariants:
//   - Config values are strings on the wire and on disk; numbers and booleans are coerced.
//   - A connector created or changed over REST is written to its own file in Config.StateDir
//     (atomically, storageapi/durable) before the answer is sent; a failed write changes nothing.
//   - Lifecycle changes (create, update, pause, resume, stop, restart, delete) are serialised;
//     a consumer is stopped, and its offsets committed, before its connector changes.
//   - Every consumer goroutine is started by Registry.Run's context and waited for before Run
//     returns; requests after that only change definitions.
package connect
