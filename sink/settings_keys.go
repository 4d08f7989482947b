package sink

import (
	"time"

	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/sink/staging"
	"github.com/kbridge/kbridge/sink/target"
)

// Setting types as the Stream API reports them.
const (
	typeBool     = "bool"
	typeInt      = "int"
	typeString   = "string"
	typeStrings  = "[]string"
	typeDuration = "duration"
	typeSize     = "size"
)

// settingDef is one key of Keboola's settings schema.
type settingDef struct {
	key         string
	typ         string
	def         any   // default in API form: bool, int64, string ("30s", "5MB"), []string
	min, max    int64 // bounds of int, size (bytes) and duration (ns) values
	enum        []string
	protected   bool
	description string
	apply       func(s *Settings, v value)
}

// value is a parsed setting value.
type value struct {
	b  bool
	i  int64
	s  string
	ss []string
}

const prefix = "storage.level."

// settingDefs lists every patchable key with Keboola's defaults and ranges.
var settingDefs = []settingDef{
	{key: "local.encoding.sync.wait", typ: typeBool, def: true,
		description: "Wait for the fsync that covers a record before answering (200), else answer once buffered (202).",
		apply:       func(s *Settings, v value) { s.SyncWait = v.b }},
	{key: "staging.upload.trigger.count", typ: typeInt, def: int64(10000), min: 1, max: 10_000_000,
		description: "Upload a slice when it holds this many records.",
		apply:       func(s *Settings, v value) { s.Upload.Count = v.i }},
	{key: "staging.upload.trigger.size", typ: typeSize, def: "5MB", min: 100, max: 50 << 20,
		description: "Upload a slice when its compressed size reaches this.",
		apply:       func(s *Settings, v value) { s.Upload.Size = v.i }},
	{key: "staging.upload.trigger.interval", typ: typeDuration, def: "30s", min: int64(time.Second), max: int64(30 * time.Minute),
		description: "Upload a slice this long after it was opened.",
		apply:       func(s *Settings, v value) { s.Upload.Interval = time.Duration(v.i) }},
	{key: "target.import.trigger.count", typ: typeInt, def: int64(50000), min: 1, max: 10_000_000,
		description: "Import a file when it holds this many records.",
		apply:       func(s *Settings, v value) { s.Import.Count = v.i }},
	{key: "target.import.trigger.size", typ: typeSize, def: "50MB", min: 100, max: 500 << 20,
		description: "Import a file when its compressed size reaches this.",
		apply:       func(s *Settings, v value) { s.Import.Size = v.i }},
	{key: "target.import.trigger.interval", typ: typeDuration, def: "1m0s", min: int64(30 * time.Second), max: int64(24 * time.Hour),
		description: "Import a file this long after it was opened.",
		apply:       func(s *Settings, v value) { s.Import.Interval = time.Duration(v.i) }},
	{key: "target.import.trigger.slicesCount", typ: typeInt, def: int64(100), min: 1, max: 200, protected: true,
		description: "Import a file when it has this many slices.",
		apply:       func(s *Settings, v value) { s.Import.SlicesCount = int(v.i) }},
	{key: "target.import.trigger.expiration", typ: typeDuration, def: "30m0s", min: int64(5 * time.Minute), max: int64(45 * time.Minute), protected: true,
		description: "Import a file when its staging credentials expire within this.",
		apply:       func(s *Settings, v value) { s.Import.Expiration = time.Duration(v.i) }},
	{key: "local.encoding.sync.mode", typ: typeString, def: "disk", enum: []string{"disk", "cache"}, protected: true,
		description: "disk: every sync fsyncs; cache: a sync only writes into the page cache.",
		apply:       func(s *Settings, v value) { s.Local.SyncMode = v.s }},
	{key: "local.encoding.sync.checkInterval", typ: typeDuration, def: "5ms", min: int64(time.Millisecond), max: int64(30 * time.Second), protected: true,
		description: "Accepted for compatibility; kbridge's syncer is woken by the triggers instead of polling."},
	{key: "local.encoding.sync.countTrigger", typ: typeInt, def: int64(10000), min: 1, max: 1_000_000, protected: true,
		description: "Sync when this many records are pending.",
		apply:       func(s *Settings, v value) { s.Local.SyncCountTrigger = int(v.i) }},
	{key: "local.encoding.sync.uncompressedBytesTrigger", typ: typeSize, def: "1MB", min: 100, max: 500 << 20, protected: true,
		description: "Sync when this many uncompressed bytes are pending.",
		apply:       func(s *Settings, v value) { s.Local.SyncUncompressedBytesTrigger = v.i }},
	{key: "local.encoding.sync.compressedBytesTrigger", typ: typeSize, def: "256KB", min: 100, max: 100 << 20, protected: true,
		description: "Sync when this many compressed bytes are pending.",
		apply:       func(s *Settings, v value) { s.Local.SyncCompressedBytesTrigger = v.i }},
	{key: "local.encoding.sync.intervalTrigger", typ: typeDuration, def: "50ms", min: int64(10 * time.Millisecond), max: int64(30 * time.Second), protected: true,
		description: "Sync at most this long after the first pending record.",
		apply:       func(s *Settings, v value) { s.Local.SyncIntervalTrigger = time.Duration(v.i) }},
	{key: "local.encoding.encoder.type", typ: typeString, def: "csv", enum: []string{"csv"}, protected: true,
		description: "Row encoding; only csv."},
	{key: "local.encoding.encoder.concurrency", typ: typeInt, def: int64(0), min: 0, max: 256, protected: true,
		description: "Accepted for compatibility; rows are encoded on the writer's goroutine."},
	{key: "local.encoding.inputBuffer", typ: typeSize, def: "2MB", min: 0, max: 16 << 20, protected: true,
		description: "Accepted for compatibility; rows are buffered until the next sync."},
	{key: "local.encoding.maxChunkSize", typ: typeSize, def: "512KB", min: 64 << 10, max: 1 << 20, protected: true,
		description: "Accepted for compatibility; kbridge writes locally without chunks."},
	{key: "local.encoding.failedChunksThreshold", typ: typeInt, def: int64(3), min: 1, max: 100, protected: true,
		description: "Accepted for compatibility; a failed sync makes the slice not ready at once."},
	{key: "local.encoding.compression.type", typ: typeString, def: "gzip", enum: []string{"none", "gzip"}, protected: true,
		description: "Compression of slice files.",
		apply:       func(s *Settings, v value) { s.Local.Compression = v.s }},
	{key: "local.encoding.compression.gzip.level", typ: typeInt, def: int64(1), min: 1, max: 9, protected: true,
		description: "Gzip level.",
		apply:       func(s *Settings, v value) { s.Local.GzipLevel = int(v.i) }},
	{key: "local.encoding.compression.gzip.implementation", typ: typeString, def: "parallel", enum: []string{"standard", "fast", "parallel"}, protected: true,
		description: "standard: compress/gzip; fast and parallel: klauspost/compress gzip.",
		apply:       func(s *Settings, v value) { s.Local.GzipImplementation = v.s }},
	{key: "local.encoding.compression.gzip.blockSize", typ: typeSize, def: "256KB", min: 16 << 10, max: 100 << 20, protected: true,
		description: "Accepted for compatibility."},
	{key: "local.encoding.compression.gzip.concurrency", typ: typeInt, def: int64(0), min: 0, max: 256, protected: true,
		description: "Accepted for compatibility."},
	{key: "local.volume.assignment.count", typ: typeInt, def: int64(1), min: 1, max: 100, protected: true,
		description: "Accepted for compatibility; kbridge has one volume, its data directory."},
	{key: "local.volume.assignment.preferredTypes", typ: typeStrings, def: []string{"default"}, protected: true,
		description: "Accepted for compatibility."},
}

// Settings are the effective settings of a sink: defaults ← source patch ← sink patch.
type Settings struct {
	SyncWait bool
	Local    local.Config
	Upload   staging.Trigger
	Import   target.Trigger
}
