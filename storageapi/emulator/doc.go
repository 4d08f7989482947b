// Package emulator is a local Keboola Storage API for development, demos and tests. It
// serves the subset of the API that kbridge uses over real HTTP: index and token
// verification, buckets, tables (definition create, get, list, data preview), files
// (prepare, get, list by tag, delete), asynchronous table import from sliced files,
// jobs and events, plus an Azure Blob-compatible endpoint that receives the uploads.
//
// Invariants:
//   - State lives in Config.DataDir and survives restarts: state.json holds buckets,
//     tables, files, jobs, tokens and events; tables/<id>.csv holds table rows (header
//     first) and tables/<id>.slots, once an upsert replaced a row, where each row's current
//     version is (see tablerows.go); blobs/<container>/<blob> holds uploaded blobs. Files
//     are replaced atomically (temp file, fsync, rename, fsync of the directory); imports
//     append to the table data and fsync it instead of rewriting it, so an import costs
//     what it brings, not what the table holds.
//   - Jobs run one at a time on the worker owned by Run, in creation order, so imports
//     into one table are serialized. A job stays "waiting" for Config.JobDelay before it
//     is processed. Jobs still waiting or processing at start-up are run again.
//   - New starts nothing; Run(ctx) runs the job worker and Serve(ctx, listener) serves
//     HTTP and runs the worker; both return once everything they started has stopped.
//   - Fault injection (Faults, InjectFault, FailJobs, ...) affects only the running
//     process and is not persisted.
package emulator
