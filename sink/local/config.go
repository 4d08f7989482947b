package local

import (
	"errors"
	"fmt"
	"time"
)

// Compression types Keboola imports.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
)

// Gzip implementations: "standard" is compress/gzip; "fast" and "parallel" are
// github.com/klauspost/compress/gzip, which is faster at the same level (see docs/pipeline.md).
const (
	GzipStandard = "standard"
	GzipFast     = "fast"
	GzipParallel = "parallel"
)

// Sync modes: "disk" fsyncs on every sync, "cache" only writes into the page cache.
const (
	SyncModeDisk  = "disk"
	SyncModeCache = "cache"
)

// Config is the encoding and sync configuration of one slice. The sink's settings produce it
// (keys storage.level.local.encoding.*).
type Config struct {
	Compression        string // compression.type
	GzipLevel          int    // compression.gzip.level
	GzipImplementation string // compression.gzip.implementation

	SyncMode                     string        // sync.mode
	SyncCountTrigger             int           // sync.countTrigger
	SyncUncompressedBytesTrigger int64         // sync.uncompressedBytesTrigger
	SyncCompressedBytesTrigger   int64         // sync.compressedBytesTrigger
	SyncIntervalTrigger          time.Duration // sync.intervalTrigger
}

// DefaultConfig returns Keboola's defaults.
func DefaultConfig() Config {
	return Config{
		Compression:                  CompressionGzip,
		GzipLevel:                    1,
		GzipImplementation:           GzipParallel,
		SyncMode:                     SyncModeDisk,
		SyncCountTrigger:             10000,
		SyncUncompressedBytesTrigger: 1 << 20,
		SyncCompressedBytesTrigger:   256 << 10,
		SyncIntervalTrigger:          50 * time.Millisecond,
	}
}

// Validate names every bad key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("local config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Compression != CompressionNone && c.Compression != CompressionGzip {
		bad("compression.type", "must be none or gzip, got %q", c.Compression)
	}
	if c.GzipLevel < 1 || c.GzipLevel > 9 {
		bad("compression.gzip.level", "must be between 1 and 9, got %d", c.GzipLevel)
	}
	switch c.GzipImplementation {
	case GzipStandard, GzipFast, GzipParallel:
	default:
		bad("compression.gzip.implementation", "must be standard, fast or parallel, got %q", c.GzipImplementation)
	}
	if c.SyncMode != SyncModeDisk && c.SyncMode != SyncModeCache {
		bad("sync.mode", "must be disk or cache, got %q", c.SyncMode)
	}
	if c.SyncCountTrigger < 1 {
		bad("sync.countTrigger", "must be at least 1, got %d", c.SyncCountTrigger)
	}
	if c.SyncUncompressedBytesTrigger < 1 {
		bad("sync.uncompressedBytesTrigger", "must be positive, got %d", c.SyncUncompressedBytesTrigger)
	}
	if c.SyncCompressedBytesTrigger < 1 {
		bad("sync.compressedBytesTrigger", "must be positive, got %d", c.SyncCompressedBytesTrigger)
	}
	if c.SyncIntervalTrigger <= 0 {
		bad("sync.intervalTrigger", "must be positive, got %s", c.SyncIntervalTrigger)
	}
	return errors.Join(errs...)
}

// Ext is the data file extension: ".csv.gz" with gzip, ".csv" without.
func (c Config) Ext() string {
	if c.Compression == CompressionGzip {
		return ".csv.gz"
	}
	return ".csv"
}
