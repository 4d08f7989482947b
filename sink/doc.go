// Package sink moves events into Keboola tables through three levels, per sink:
// local (rows in slice files on disk, group-committed), staging (slices uploaded into a
// Keboola sliced file) and target (the file imported into the table).
//
// A Manager holds the definitions (sources, up to 100 sinks each, settings with Keboola's keys
// where a sink's patch wins over its source's) and one pipeline per sink. Write renders a batch
// of events with each enabled sink's compiled mapping and appends each sink's rows in one
// group commit (WriteBatch: none of them when any event fails); the returned Write says which
// events failed to render and waits until the rows reach a level. See docs/pipeline.md for the
// layout on disk, the states and the recovery rules.
//
// The definitions are kept by a definitions store: sealed files in the data directory (one
// node), or a SharedLog every replica reads (distributed mode, Deps.Shared), whose changes
// made by other replicas the Manager applies to its pipelines while it runs.
//
// Invariants:
//   - An event that any sink cannot render is written to no sink; a source with no enabled
//     sink is an error, never a silent success.
//   - Writes never queue without bound: a sink that cannot take rows (disk full, too much data
//     waiting for upload, no open slice) refuses at once with a *BackpressureError.
//   - Every state change of a file or slice is persisted atomically before anything depends
//     on it; an import job's id is persisted before the job is waited for.
//   - Data that is not imported is never deleted; local data of an imported file is deleted
//     right after the import.
//   - Every goroutine belongs to a pipeline, or to Run (following a SharedLog), which the
//     Manager waits for when it stops.
//   - With a SharedLog, a definition write names the version it read and fails with
//     ErrConflict when another replica changed it meanwhile; a change is applied once, by its
//     version, whether this replica wrote it or another one did.
package sink
