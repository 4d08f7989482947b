// Package cluster shares definitions between kbridge replicas through Kafka: a replicated,
// versioned key-value log on a compacted topic of one partition, the way Kafka Connect's
// distributed workers share connector configs (KafkaConfigBackingStore).
//
// Every member reads the topic from its start at boot, applies the records in log order into
// an in-memory map of key → (value, version), and follows it; it is ready once it has applied
// everything committed when it started. A write is a record carrying the writer's expected
// version; the writer answers after its own member has applied the record.
//
// Statuses is the second, simpler topic, as Connect's status topic: every member publishes its
// own statuses under "<member>/<key>", without versions (one writer per key), and reads
// everyone's.
//
// Invariants:
//   - One partition: every member applies the same records in the same order, with the same
//     deterministic rule, so every member reaches the same state. Nothing is decided outside
//     the log.
//   - A record is accepted only when its expected version is the key's current version (then
//     the version becomes expected+1) or ahead of it; ahead happens only on a member replaying
//     a compacted log, where the records that led to that version are gone. A delete is a
//     tombstone (null value) and is accepted only for a key that exists; a deleted key is at
//     version 0 again, as one never written.
//   - Writers are fenced: every write runs in a Kafka transaction under one transactional id
//     per topic, so a writer that starts makes the transaction of any writer before it abort.
//     A writer checks the expected version after it has fenced the others and applied the
//     whole committed log, so a committed record is never a losing one. That is what keeps
//     compaction safe: the last record of a key, the one compaction keeps, is always the
//     key's state, never a rejected write. Members read with read_committed.
//   - Changes reach the subscriber in log order, on the goroutine that applies them.
//   - New starts nothing; Run owns the consuming client and returns when its context ends.
package cluster
