// Package mapping turns an event into a table row the way Keboola Data Streams does.
//
// A sink's column list is decoded from Keboola's mapping JSON, compiled once by [Compile] into a
// [Mapping], and rendered per event by a [Renderer] into CSV cells: every field double-quoted,
// quotes doubled, rows ending in "\n", no header. The package is a leaf: it imports nothing
// internal, so the HTTP intake and the Kafka bridge render through the same code.
//
// Invariants:
//   - A Mapping is immutable and safe for concurrent use; a Renderer is not (one per goroutine).
//   - Event bytes are borrowed for the duration of a render call and never retained.
//   - Rendering a row of path, body, header, ip, datetime, id and kafka columns does not
//     allocate in steady state; template columns are evaluated in batches so that go-jsonnet's
//     fixed cost per evaluation is paid once per batch, not once per event.
//   - A bad event never panics: it yields a *ColumnError naming the column and the reason.
package mapping
