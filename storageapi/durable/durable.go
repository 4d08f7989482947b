// Package durable writes small files atomically and durably: the state records of the sink's
// files and slices, the Storage API emulator's state, the Kafka Connect API's connectors.
//
// It imports nothing internal, so every layer may use it: it lives under storageapi, the
// lowest layer, because the emulator there needs it and sink may import storageapi.
//
// Invariants:
//   - Write replaces a record atomically: the bytes go to a temporary file in the same
//     directory, which is fsynced and renamed over the record, and the directory is fsynced.
//     A reader therefore sees the old record or the new one, never a mix, also after a crash.
//   - Temporary files left by a crash end in ".tmp" and are ignored by Read and removed by Clean.
package durable

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write stores v as indented JSON at path, atomically and durably.
func Write(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state %s: %w", path, err)
	}
	return WriteBytes(path, append(data, '\n'))
}

// WriteBytes stores data at path, atomically and durably.
func WriteBytes(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("sync state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("close state %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("rename state %s: %w", path, err)
	}
	return SyncDir(dir)
}

// Read decodes the record at path into v.
func Read(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read state %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode state %s: %w", path, err)
	}
	return nil
}

// SyncDir fsyncs a directory so that creations, renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// MkdirAll creates dir and its parents and makes the new entries durable.
func MkdirAll(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create dir %s: %w", dir, err)
	}
	return SyncDir(filepath.Dir(dir))
}

// Clean removes temporary files a crash left in dir.
func Clean(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean dir %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("clean dir %s: %w", dir, err)
			}
		}
	}
	return nil
}
