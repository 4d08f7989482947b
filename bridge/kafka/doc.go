// Package kafka consumes Kafka topics into kbridge sources.
//
// A pipeline binds topics to a source: records are polled by a franz-go consumer group, grouped
// into batches of up to batch.max.size records, written through the source's sinks, and their
// offsets are committed only once every record up to them has reached the commit level
// (imported into the table by default).
//
// Invariants:
//   - Offsets are committed per partition, only up to the first record not yet at the commit
//     level: contiguous marks, never franz-go's default autocommit.
//   - On revoke, what is done is committed and the rest dropped; on loss, nothing is committed;
//     a completion that arrives after its partition was revoked or lost never commits.
//   - A bad record never blocks its partition and never vanishes: it stops the pipeline
//     (errors.tolerance=none) or goes to the dead-letter topic with the reason (all).
//   - Back pressure pauses partitions; the poll loop never blocks on the sinks.
package kafka
