// Package local is the first level of a sink: rows appended to slice files on local disk and
// made durable by group commit.
//
// A Slice is one data file (CSV, gzip or not) plus a sync log beside it. Writers call Append
// with rows already rendered; the rows are compressed into an in-memory buffer and Append
// returns the SyncPoint that will cover them. The slice's syncer (Run) writes the buffer to the
// file, fsyncs it, appends one line to the sync log and fsyncs that, then completes the
// SyncPoint: one fsync pair covers every row appended before it (group commit). A sync starts
// when the pending rows reach the count, uncompressed-bytes or compressed-bytes trigger, or,
// with rows pending, the interval trigger has passed since the previous sync started (so no
// row waits longer than the interval, and under steady load syncs start every interval).
//
// Invariants:
//   - With gzip every sync ends a complete gzip member, so the data file is always a valid
//     multi-member gzip stream up to the size recorded in the last sync-log line.
//   - The sync log is the truth after a crash: Recover truncates the data file to the size of
//     the last complete line (dropping a torn tail that no writer was told was durable) and
//     returns the statistics and per-stream offset ranges recorded there.
//   - A failed write or fsync is reported to every waiter of that SyncPoint and makes the
//     slice fail every later Append; the owner closes it and opens another.
//   - Files are created and opened only through the FS interface, so tests inject disk errors.
//   - Append does not allocate in steady state: rows go into reused buffers and one
//     compressor per slice is reset, not rebuilt, after each sync.
package local
